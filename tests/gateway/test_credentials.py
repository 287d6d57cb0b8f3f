"""systemd credentials: relative ``*_file`` paths are read from ``$CREDENTIALS_DIRECTORY``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_settings

CONFIG = """
environment = "test"

[upstreams.vnpay.adapter]
hash_secret_file = "vnpay-hash-secret"

[upstreams.population.adapter.ndxp]
basic_user = "lienthong"
api_key_file = "ndxp-api-key"
basic_secret_file = "/absolute/elsewhere/ndxp-basic-secret"
"""


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A credentials directory as systemd makes it, and the config naming its files."""
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "vnpay-hash-secret").write_text("vnpay-secret-from-systemd\n")
    (directory / "ndxp-api-key").write_text("ndxp-key-from-systemd\n")
    (directory / "server.key").write_text("not read at load time")
    monkeypatch.chdir(tmp_path)  # a relative path must not be found here by accident
    return directory


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text.replace("/absolute/elsewhere", str(tmp_path / "elsewhere")))
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    (tmp_path / "elsewhere" / "ndxp-basic-secret").write_text("absolute-secret\n")
    return path


def test_relative_secret_files_come_from_the_credentials_directory(
    tmp_path: Path, credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets read at load time and later both come from $CREDENTIALS_DIRECTORY."""
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(_config(tmp_path))
    ndxp = settings.upstreams.population.adapter.ndxp
    assert ndxp.api_key is not None
    assert ndxp.api_key.get_secret_value() == "ndxp-key-from-systemd"
    assert ndxp.basic_secret is not None
    assert ndxp.basic_secret.get_secret_value() == "absolute-secret"  # absolute: untouched
    assert settings.upstreams.vnpay.adapter is not None
    assert settings.upstreams.vnpay.adapter.hash_secret_value() == "vnpay-secret-from-systemd"


def test_environment_overrides_are_resolved_too(
    tmp_path: Path, credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``LIENTHONG_*__*_FILE`` override names a credential just as the TOML does."""
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("LIENTHONG_TLS__KEY_FILE", "server.key")
    settings = load_settings(_config(tmp_path))
    assert settings.tls.key_file == credentials / "server.key"


def test_without_systemd_relative_paths_stay_relative(
    tmp_path: Path, credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No $CREDENTIALS_DIRECTORY: a relative path is the working directory's, as before."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("LIENTHONG_TLS__KEY_FILE", "server.key")
    text = CONFIG.replace('api_key_file = "ndxp-api-key"\n', "")
    settings = load_settings(_config(tmp_path, text))
    assert settings.tls.key_file == Path("server.key")
    assert settings.upstreams.vnpay.adapter is not None
    with pytest.raises(ValueError, match="cannot read secret file vnpay-hash-secret"):
        settings.upstreams.vnpay.adapter.hash_secret_value()
