"""SIGHUP on a real ``lienthong run`` with TLS: a new connection gets the renewed certificate.

The certificate and key are trustme's, written to a temporary directory; the test
replaces both files in place (a renewal: same paths, new contents), sends SIGHUP,
and opens new TLS connections until one presents the new certificate. Waits are
bounded loops, never assertions about how long anything took.
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import time
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gateway.config import DEFAULT_CONFIG
from tests.payments.processes import GatewayProcess, free_port, gateway_env

pytestmark = pytest.mark.slow


def _write_server_pair(ca: trustme.CA, directory: Path) -> bytes:
    """A new certificate for 127.0.0.1 written over server.pem/server.key; its DER."""
    cert = ca.issue_cert("127.0.0.1")
    key = directory / "server.key"
    key.touch(mode=0o600)
    key.chmod(0o600)
    cert.private_key_pem.write_to_path(str(key))
    cert.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
    pem = cert.cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _presented_certificate(port: int, client: ssl.SSLContext) -> bytes:
    """The DER certificate a new TLS connection to the listener is shown."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_sighup_gives_new_tls_connections_the_renewed_certificate(tmp_path: Path) -> None:
    """Renewed cert/key files + SIGHUP: the next connection sees the new certificate, logged.

    The same reload raises the log level from WARNING to INFO: the ``reload.applied``
    line itself (info) is there only because the new level was applied.
    """
    ca = trustme.CA()
    pki = tmp_path / "pki"
    pki.mkdir()
    ca.cert_pem.write_to_path(str(pki / "ca.pem"))
    first = _write_server_pair(ca, pki)
    client = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ca.issue_cert("motcua-demo").configure_cert(client)  # a city-CA client certificate

    config = tmp_path / "gateway.toml"
    default = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert '[logging]\nlevel = "INFO"\n' in default
    # WARNING until the reload: its own info line shows that the new level was applied.
    config.write_text(default.replace('level = "INFO"', 'level = "WARNING"', 1), encoding="utf-8")
    port, tls_port = free_port(), free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", free_port(), "whsec_" + "x" * 32)
    env |= {
        "LIENTHONG_SERVER__TLS_PORT": str(tls_port),
        "LIENTHONG_SERVER__DRAIN_SECONDS": "0",
        "LIENTHONG_TLS__DEV_PKI_DIR": str(tmp_path / "dev-pki"),
        "LIENTHONG_TLS__CERT_FILE": str(pki / "server.pem"),
        "LIENTHONG_TLS__KEY_FILE": str(pki / "server.key"),
        "LIENTHONG_TLS__CLIENT_CA_FILE": str(pki / "ca.pem"),
    }
    del env["LIENTHONG_LOGGING__LEVEL"]  # the level comes from the file, so that a reload sees it
    log = tmp_path / "gateway.log"
    gw = GatewayProcess.start(port, env, log, config)
    try:
        assert _presented_certificate(tls_port, client) == first

        second = _write_server_pair(ca, pki)
        assert second != first
        config.write_text(default, encoding="utf-8")  # and the level back to INFO
        gw.proc.send_signal(signal.SIGHUP)
        presented = first
        for _ in range(300):  # a bound on waiting (about 30 s), not a timing assertion
            presented = _presented_certificate(tls_port, client)
            if presented != first:
                break
            time.sleep(0.1)
        assert presented == second
        assert gw.proc.poll() is None
    finally:
        status = gw.stop()
    output = log.read_text(errors="replace")
    assert status == 0, output[-3000:]
    applied = [json.loads(line) for line in output.splitlines() if '"reload.applied"' in line]
    assert len(applied) == 1, output[-3000:]
    assert "tls.certificate" in applied[0]["changed"], applied
    assert "logging.level" in applied[0]["changed"], applied
    renewed = x509.load_der_x509_certificate(second)
    assert applied[0]["tls_certificate"] == {
        "subject": renewed.subject.rfc4514_string(),
        "serial": format(renewed.serial_number, "x"),
        "not_after": renewed.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": renewed.fingerprint(hashes.SHA256()).hex(),
    }
