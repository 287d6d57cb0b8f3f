"""The operator's command line: config checks, and `lienthong run` as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.auth.signatures import sign_request
from gateway.cli import main

REPO = Path(__file__).resolve().parent.parent


def use_temporary_dev_pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default's TLS files, moved into ``tmp_path/pki`` with the dev PKI."""
    pki = tmp_path / "pki"
    monkeypatch.setenv("LIENTHONG_TLS__DEV_PKI_DIR", str(pki))
    for name, file in (("CERT", "server.pem"), ("KEY", "server.key"), ("CLIENT_CA", "ca.pem")):
        monkeypatch.setenv(f"LIENTHONG_TLS__{name}_FILE", str(pki / file))


def without_lienthong_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``LIENTHONG_*`` override from the suite's environment for this test."""
    for name in list(os.environ):
        if name.startswith("LIENTHONG_"):
            monkeypatch.delenv(name)


def test_embedded_default_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config accepts the embedded default (a development config).

    The suite moves the dev PKI to a temporary directory (conftest), so the TLS files
    follow it there, as they must for `run` to start.
    """
    use_temporary_dev_pki(tmp_path, monkeypatch)
    assert main(["check-config"]) == 0, capsys.readouterr().err
    assert "ok" in capsys.readouterr().out


def test_bad_key_is_named_with_its_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong value or an unknown key is reported by its dotted path and the file's name."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[server]\nport = "eighty"\n[population.adapter]\nendpont = "x"\n')
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err
    assert "server.port" in err
    assert "population.adapter.endpont" in err


def test_production_refuses_dev_material(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The embedded default marked production: sandboxes, dev PKI, dev secrets, loopback peers."""
    text = (REPO / "config/gateway.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "prod.toml"
    cfg.write_text(text.replace('environment = "development"', 'environment = "production"'))
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "sandbox.enabled" in err
    assert "tls.generate_dev_pki" in err
    assert "clients[0].secrets[0]: a dev-only secret" in err
    assert "business.adapter.oauth.consumer_secret: a dev-only secret" in err
    assert "population.adapter.endpoint: a loopback" in err
    assert "motcua-demo-secret-change-me" not in err  # names the key, never shows the secret


def test_production_example_passes_once_its_files_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """config/production.example.toml is a complete production config, bar its files."""
    from tests.test_preflight import make_deployment

    without_lienthong_environment(monkeypatch)
    cfg = make_deployment(tmp_path).config
    assert main(["check-config", str(cfg)]) == 0, capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback only
        return r.status, r.read()


@pytest.mark.slow
def test_lienthong_run_serves_the_embedded_default(tmp_path: Path) -> None:
    """`lienthong run` starts sandboxes and gateway, answers a signed verify, stops on SIGTERM."""
    port = _free_port()
    env = {
        **os.environ,
        "LIENTHONG_SERVER__PORT": str(port),
        "LIENTHONG_SERVER__TLS_PORT": str(_free_port()),
        "LIENTHONG_SANDBOX__POPULATION_PORT": "0",
        "LIENTHONG_SANDBOX__NGSP_PORT": "0",
        "LIENTHONG_SANDBOX__DVCQG_PORT": "0",
        "LIENTHONG_SANDBOX__VNPAY_PORT": "0",
        "LIENTHONG_STORE__URL": f"sqlite:///{tmp_path}/gw.db",
        "LIENTHONG_TLS__DEV_PKI_DIR": str(tmp_path / "pki"),
        "LIENTHONG_TLS__CERT_FILE": str(tmp_path / "pki/server.pem"),
        "LIENTHONG_TLS__KEY_FILE": str(tmp_path / "pki/server.key"),
        "LIENTHONG_TLS__CLIENT_CA_FILE": str(tmp_path / "pki/ca.pem"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        body = json.dumps(
            {
                "id_number": "092195004321",
                "full_name": "Trần Thị Thủy",
                "birth_date": "1995-11-02",
                "gender": "female",
            }
        ).encode()
        url = base + "/v1/citizens/verify"
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": "application/json"},
            body,
            "motcua-demo",
            "motcua-demo-secret-change-me",
        )
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
            verdict = json.loads(r.read())
        assert verdict["verdict"] == "match"
        assert (tmp_path / "pki/ca.pem").exists()  # the dev PKI was generated
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    assert b"lienthong is up" in out
    assert b"gc.frozen" in out  # start-up objects are kept out of the collector's way


def test_check_config_warns_of_open_callback_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In production, a provider whose callbacks are accepted from anywhere is a warning."""
    from tests.test_preflight import make_deployment

    without_lienthong_environment(monkeypatch)
    cfg = make_deployment(tmp_path).config
    assert main(["check-config", str(cfg)]) == 0
    warned = capsys.readouterr().err
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("callback_sources = []", 'callback_sources = ["127.0.0.0/8"]'))
    assert main(["check-config", str(cfg)]) == 0
    quiet = capsys.readouterr().err
    assert "warning: payments.dvcqg.callback_sources is empty" in warned
    assert "warning: payments.vnpay.callback_sources is empty" in warned
    assert "callback_sources" not in quiet


def test_check_config_is_quiet_about_sandbox_callback_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The embedded default's providers are sandboxes on loopback: no warning."""
    use_temporary_dev_pki(tmp_path, monkeypatch)
    assert main(["check-config"]) == 0
    assert "callback_sources" not in capsys.readouterr().err


def test_callback_sources_and_trusted_proxies_must_be_networks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list entry that is no address or CIDR network is refused, naming its key."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[server]\ntrusted_proxies = ["nginx"]\n'
        '[payments.vnpay]\ncallback_sources = ["10.0.0.0/33"]\n'
    )
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "server.trusted_proxies" in err
    assert "payments.vnpay.callback_sources" in err
