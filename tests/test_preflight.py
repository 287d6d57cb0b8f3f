"""The preflight (`lienthong check-config`, and `lienthong run` before it starts).

A filled-in copy of config/production.example.toml with every file it names made for
real (trustme certificates, an Ed25519 audit key, 0600 secrets) passes; each test then
breaks one thing and checks that the report names the key, the file and, for an
environment override, the variable, in one run, and that `run` refuses the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.cli import main
from gateway.preflight import env_variable, preflight, url_problem

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "production.example.toml"
SECRETS = (
    "ndxp-api-key",
    "ndxp-basic-secret",
    "ngsp-consumer-key",
    "ngsp-consumer-secret",
    "dvcqg-hash-key",
    "vnpay-hash-secret",
    "audit-digest-key",
)
#: Every certificate and key file the example names, by its config key.
CERT_KEYS = {
    "tls.cert_file": "tls/server.pem",
    "tls.key_file": "tls/server.key",
    "tls.client_ca_file": "tls/city-ca.pem",
    "upstreams.population.adapter.ws_security.signing.cert_file": "tls/ndxp-signing.pem",
    "upstreams.population.adapter.ws_security.signing.key_file": "tls/ndxp-signing.key",
    "upstreams.population.adapter.tls.ca_file": "tls/ndxp-ca.pem",
    "upstreams.population.adapter.tls.cert_file": "tls/ndxp-client.pem",
    "upstreams.population.adapter.tls.key_file": "tls/ndxp-client.key",
    "audit.signing_key_file": "audit/signing.key",
}


@dataclass
class Deployment:
    """A production config in ``root`` whose every file exists, and the CA that made them."""

    root: Path
    config: Path
    city_ca: trustme.CA

    def file(self, key: str) -> Path:
        return self.root / CERT_KEYS[key]


def _private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _leaf(ca: trustme.CA, root: Path, name: str, **kwargs: object) -> None:
    cert = ca.issue_cert(f"{name}.example.gov.vn", **kwargs)  # type: ignore[arg-type]
    (root / f"tls/{name}.pem").write_bytes(cert.cert_chain_pems[0].bytes())
    _private(root / f"tls/{name}.key", cert.private_key_pem.bytes())


def make_deployment(root: Path) -> Deployment:
    for sub in ("tls", "secrets", "audit"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    city, ndxp = trustme.CA(), trustme.CA()
    (root / "tls/city-ca.pem").write_bytes(city.cert_pem.bytes())
    (root / "tls/ndxp-ca.pem").write_bytes(ndxp.cert_pem.bytes())
    _leaf(city, root, "server")
    _leaf(city, root, "ndxp-client")
    _leaf(city, root, "ndxp-signing", key_type=trustme.KeyType.RSA)
    key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _private(root / "audit/signing.key", key)
    for name in SECRETS:
        _private(root / f"secrets/{name}", b"a-real-secret-from-the-store\n")
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("/etc/lienthong/tls/", f"{root}/tls/")
    text = text.replace("/etc/lienthong/audit/", f"{root}/audit/")
    text = text.replace("/run/secrets/", f"{root}/secrets/")
    config = root / "gateway.toml"
    config.write_text(text, encoding="utf-8")
    return Deployment(root, config, city)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    for name in list(os.environ):
        if name.upper().startswith("LIENTHONG_"):
            monkeypatch.delenv(name)
    return make_deployment(tmp_path)


def _report(config: Path) -> list[str]:
    return [str(p) for p in preflight(config).problems]


def _lines_for(key: str, lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(f"{key}: ")]


def test_a_complete_production_config_passes(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file present, well-formed, matching and private: ok, exit 0."""
    assert _report(deployment.config) == []
    assert main(["check-config", "--config", str(deployment.config)]) == 0
    assert "ok (environment production)" in capsys.readouterr().out


def test_every_missing_file_is_named_in_one_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unfilled example: each secret file and each certificate/key file, all at once."""
    for name in list(os.environ):
        if name.upper().startswith("LIENTHONG_"):
            monkeypatch.delenv(name)
    assert main(["check-config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert err.splitlines()[0].startswith(f"{EXAMPLE}: ")
    for key, rel in CERT_KEYS.items():
        where = "/etc/lienthong/" + rel
        assert f"{key}: {where}: file not found" in lines, err
    for name in SECRETS:
        assert any(line.endswith(f"/run/secrets/{name}: file not found") for line in lines), err
    assert "Traceback" not in err


def test_a_world_readable_secret_is_refused(deployment: Deployment) -> None:
    """A secret file with mode 0644 is a problem; the same file at 0600 is not."""
    secret = deployment.root / "secrets/vnpay-hash-secret"
    key = deployment.file("tls.key_file")
    secret.chmod(0o644)
    key.chmod(0o644)
    lines = _report(deployment.config)
    assert _lines_for("upstreams.vnpay.adapter.hash_secret_file", lines) == [
        f"upstreams.vnpay.adapter.hash_secret_file: {secret}: a secret readable by every user"
        " (mode 0644); chmod o-r, e.g. 0600"
    ]
    assert "mode 0644" in _lines_for("tls.key_file", lines)[0]
    assert len(lines) == 2
    secret.chmod(0o600)
    key.chmod(0o640)  # group-readable is the operator's choice (e.g. a lienthong group)
    assert _report(deployment.config) == []


def test_a_certificate_file_may_be_world_readable(deployment: Deployment) -> None:
    """Certificates are public: 0644 is fine for them."""
    deployment.file("tls.cert_file").chmod(0o644)
    deployment.file("tls.client_ca_file").chmod(0o644)
    assert _report(deployment.config) == []


def test_an_expired_certificate_is_refused(deployment: Deployment) -> None:
    """The gateway's certificate ran out yesterday."""
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    _leaf(
        deployment.city_ca,
        deployment.root,
        "server",
        not_before=yesterday - dt.timedelta(days=30),
        not_after=yesterday,
    )
    lines = _lines_for("tls.cert_file", _report(deployment.config))
    assert len(lines) == 1
    assert f"{deployment.file('tls.cert_file')}: certificate" in lines[0]
    assert f"expired on {yesterday:%Y-%m-%d}" in lines[0]


def test_a_certificate_not_yet_valid_is_refused(deployment: Deployment) -> None:
    """Issued with a start date next week: refused until then."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    _leaf(
        deployment.city_ca,
        deployment.root,
        "ndxp-client",
        not_before=later,
        not_after=later + dt.timedelta(days=30),
    )
    lines = _lines_for("upstreams.population.adapter.tls.cert_file", _report(deployment.config))
    assert len(lines) == 1
    assert "is not valid before" in lines[0]


def test_a_key_that_does_not_match_its_certificate_is_refused(deployment: Deployment) -> None:
    """The NDXP client key swapped for the server's: the pair no longer matches."""
    shutil.copy(
        deployment.file("tls.key_file"),
        deployment.file("upstreams.population.adapter.tls.key_file"),
    )
    lines = _report(deployment.config)
    assert lines == [
        "upstreams.population.adapter.tls.key_file:"
        f" {deployment.file('upstreams.population.adapter.tls.key_file')}:"
        " does not match the certificate in upstreams.population.adapter.tls.cert_file"
    ]


def test_a_certificate_from_another_ca_is_refused(deployment: Deployment) -> None:
    """The gateway's certificate must chain to the city CA it names."""
    _leaf(trustme.CA(), deployment.root, "server")
    lines = _report(deployment.config)
    assert len(lines) == 1
    assert lines[0].startswith(f"tls.cert_file: {deployment.file('tls.cert_file')}: certificate")
    assert "is not issued by the CA in tls.client_ca_file" in lines[0]


def test_a_chain_through_an_intermediate_is_accepted(deployment: Deployment) -> None:
    """Leaf and intermediate in cert_file, root in client_ca_file: it chains."""
    intermediate = deployment.city_ca.create_child_ca()
    cert = intermediate.issue_cert("server.example.gov.vn")
    deployment.file("tls.cert_file").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    _private(deployment.file("tls.key_file"), cert.private_key_pem.bytes())
    assert _report(deployment.config) == []


def test_files_that_are_not_pem_are_refused(deployment: Deployment) -> None:
    """A certificate file holding a key, and a key file holding a certificate."""
    cert, key = deployment.file("tls.cert_file"), deployment.file("tls.key_file")
    cert_bytes = cert.read_bytes()
    cert.write_bytes(key.read_bytes())
    _private(key, cert_bytes)
    lines = _report(deployment.config)
    assert f"tls.cert_file: {cert}: not a PEM certificate" in lines
    assert f"tls.key_file: {key}: not a PEM private key (or a wrong key_password)" in lines


def test_the_audit_signing_key_must_be_ed25519(deployment: Deployment) -> None:
    """An EC key where the audit log needs Ed25519."""
    shutil.copy(deployment.file("tls.key_file"), deployment.file("audit.signing_key_file"))
    assert _report(deployment.config) == [
        f"audit.signing_key_file: {deployment.file('audit.signing_key_file')}:"
        " not an Ed25519 private key"
    ]


def test_previous_audit_public_keys_must_be_ed25519_public_keys(deployment: Deployment) -> None:
    """Each previous audit key: a readable Ed25519 public key (a public one may be 0644)."""
    good = deployment.root / "audit/previous.pub"
    good.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    good.chmod(0o644)
    missing = deployment.root / "audit/gone.pub"
    files = [str(good), str(deployment.file("tls.cert_file")), str(missing)]
    text = deployment.config.read_text(encoding="utf-8").replace(
        "[audit]\n", f"[audit]\nprevious_public_key_files = {json.dumps(files)}\n", 1
    )
    deployment.config.write_text(text, encoding="utf-8")
    assert _report(deployment.config) == [
        f"audit.previous_public_key_files[1]: {files[1]}: not a PEM public key",
        f"audit.previous_public_key_files[2]: {missing}: file not found",
    ]


def test_an_empty_secret_file_is_refused(deployment: Deployment) -> None:
    """A mounted secret that is empty would be sent as an empty credential."""
    (deployment.root / "secrets/ngsp-consumer-secret").write_text("\n")
    lines = _report(deployment.config)
    assert lines == [
        f"upstreams.business.adapter.oauth.consumer_secret_file: {deployment.root}/secrets/"
        "ngsp-consumer-secret: empty"
    ]


def test_an_environment_override_is_named(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key file and a URL set from the environment name the LIENTHONG_* variable."""
    monkeypatch.setenv("LIENTHONG_TLS__KEY_FILE", str(deployment.root / "nowhere.key"))
    monkeypatch.setenv(
        "LIENTHONG_UPSTREAMS__DVCQG__ADAPTER__BASE_URL", "https://thanhtoan.example:99999"
    )
    lines = _report(deployment.config)
    assert (
        f"tls.key_file: {deployment.root}/nowhere.key: file not found"
        " (set by LIENTHONG_TLS__KEY_FILE)"
    ) in lines
    dvcqg = _lines_for("upstreams.dvcqg.adapter.base_url", lines)
    assert len(dvcqg) == 1
    assert "not a well-formed URL" in dvcqg[0]
    assert dvcqg[0].endswith("(set by LIENTHONG_UPSTREAMS__DVCQG__ADAPTER__BASE_URL)")


def test_malformed_urls_are_refused(deployment: Deployment) -> None:
    """A URL with a space, one without a host, one with a wrong scheme: each by its key."""
    text = deployment.config.read_text(encoding="utf-8")
    text = text.replace('base_url = "https://ngsp.example.gov.vn"', 'base_url = "https://ngsp .vn"')
    text = text.replace(
        'token_url = "https://ngsp.example.gov.vn/token"', 'token_url = "https:///token"'
    )
    text = text.replace(
        'return_url = "https://lienthong.example.gov.vn/pay/return/vnpay"',
        'return_url = "ftp://lienthong.example.gov.vn/pay/return/vnpay"',
    )
    deployment.config.write_text(text, encoding="utf-8")
    lines = _report(deployment.config)
    assert _lines_for("upstreams.business.adapter.base_url", lines)[0].startswith(
        "upstreams.business.adapter.base_url: not a URL"
    )
    assert "no host" in _lines_for("upstreams.business.adapter.oauth.token_url", lines)[0]
    assert (
        "the scheme must be http or https"
        in _lines_for("upstreams.vnpay.adapter.return_url", lines)[0]
    )


@pytest.mark.parametrize(
    ("url", "fine"),
    [
        ("https://ndxp.example.gov.vn/dancu/ws", True),
        ("http://127.0.0.1:8701/dancu/ws", True),
        ("https://[::1]:8443/x", True),
        ("https://host:99999/", False),
        ("https://host:port/", False),
        ("host/path", False),
        ("https://exa mple/", False),
        ("", False),
        ("https://host:0/", False),
    ],
)
def test_url_problem(url: str, fine: bool) -> None:
    """What a well-formed URL is, for the preflight."""
    assert (url_problem(url) is None) is fine


def test_env_variable_finds_the_longest_prefix() -> None:
    """A key set by a whole-section or whole-list variable is attributed to it."""
    env = {"LIENTHONG_CLIENTS": "[]", "lienthong_tls__key_file": "x", "OTHER": "1"}
    assert env_variable("clients[0].webhook.url", env) == "LIENTHONG_CLIENTS"
    assert env_variable("clients.0.id", env) == "LIENTHONG_CLIENTS"
    assert env_variable("tls.key_file", env) == "lienthong_tls__key_file"
    assert env_variable("tls.cert_file", env) is None


def test_validation_errors_are_all_reported_with_their_variable(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad values from the file and from the environment, every one in the same run."""
    monkeypatch.setenv("LIENTHONG_SERVER__PORT", "eighty")
    text = deployment.config.read_text(encoding="utf-8")
    deployment.config.write_text(text.replace("max_body_bytes = 1048576", "max_body_bytes = 0"))
    assert main(["check-config", str(deployment.config)]) == 2
    err = capsys.readouterr().err
    assert "server.port: " in err
    assert "(set by LIENTHONG_SERVER__PORT)" in err
    assert "server.max_body_bytes: " in err


def test_dev_pki_files_may_be_missing_when_they_will_be_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default with an empty dev PKI directory passes: run generates it."""
    pki = tmp_path / "pki"
    monkeypatch.setenv("LIENTHONG_TLS__DEV_PKI_DIR", str(pki))
    for name, file in (("CERT", "server.pem"), ("KEY", "server.key"), ("CLIENT_CA", "ca.pem")):
        monkeypatch.setenv(f"LIENTHONG_TLS__{name}_FILE", str(pki / file))
    assert [str(p) for p in preflight(None).problems] == []
    # ... but a TLS file outside that directory is not generated, and is said to be so.
    monkeypatch.setenv("LIENTHONG_TLS__CERT_FILE", str(tmp_path / "elsewhere.pem"))
    lines = [str(p) for p in preflight(None).problems]
    assert len(lines) == 1
    assert lines[0].startswith(f"tls.cert_file: {tmp_path}/elsewhere.pem:")
    assert f"the dev PKI is generated in {pki}" in lines[0]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="lienthong-preflight-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_a_file_the_service_user_cannot_read_is_refused(shared_dir: Path) -> None:
    """Readable by the *effective* user: checked while running as an unprivileged one.

    root reads every file, so as root the preflight runs with its effective uid set
    to ``nobody`` (65534), which is how a service user meets a root-owned 0600 key;
    as any other user the key is made mode 0000.
    """
    deployment = make_deployment(shared_dir)
    key = deployment.file("tls.key_file")
    unprivileged = os.geteuid() != 0
    if unprivileged:
        key.chmod(0o000)
        expected_uid = os.geteuid()
    else:
        for path in [shared_dir, *shared_dir.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
            elif path != key:
                path.chmod(0o644)  # world-readable, so that nobody may read the rest
        expected_uid = 65534
        preflight(deployment.config)  # every module imported while still root
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if not k.startswith("LIENTHONG_")})
    try:
        if not unprivileged:
            os.seteuid(65534)
        try:
            lines = [str(p) for p in preflight(deployment.config).problems]
        finally:
            if not unprivileged:
                os.seteuid(0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    st = key.stat()
    assert (
        f"tls.key_file: {key}: not readable by this user (uid {expected_uid};"
        f" file mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid})"
    ) in lines, lines
    if not unprivileged:  # and the secrets made 0644 for nobody are said to be exposed
        assert any("a secret readable by every user" in line for line in lines)


def test_run_refuses_a_bad_config_with_the_same_report(deployment: Deployment) -> None:
    """`lienthong run` prints the preflight's report, one line per problem, exits 2."""
    deployment.file("tls.client_ca_file").unlink()
    (deployment.root / "secrets/dvcqg-hash-key").unlink()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LIENTHONG_")}
    proc = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "gateway", "run", "--config", str(deployment.config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{deployment.config}: 3 problems:",
        f"  tls.client_ca_file: {deployment.file('tls.client_ca_file')}: file not found",
        "  upstreams.dvcqg.adapter.hash_key_file:"
        f" {deployment.root}/secrets/dvcqg-hash-key: file not found",
        f"  security.certificates[1].path: {deployment.file('tls.client_ca_file')}: file not found",
    ]
    check = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "gateway", "check-config", str(deployment.config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (check.returncode, check.stderr) == (2, proc.stderr)
