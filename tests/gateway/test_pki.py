"""The dev PKI: a CA, a server certificate and client certificates written safely and once."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.dev.pki import certificate_expiry, init_dev_pki

CLIENTS = ["motcua-demo", "portal-demo"]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_writes_ca_server_clients_and_audit_key(tmp_path: Path) -> None:
    """All files exist; every certificate is issued by the dev CA."""
    pki = init_dev_pki(tmp_path / "dev", clients=CLIENTS)
    ca = _cert(pki.ca.cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for pair in [pki.server, *pki.clients.values()]:
        _cert(pair.cert).verify_directly_issued_by(ca)
        assert pair.key.exists()
    key = serialization.load_pem_private_key(pki.audit_signing_key.read_bytes(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert sorted(pki.clients) == CLIENTS


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    """Every private key file is mode 0600."""
    pki = init_dev_pki(tmp_path, clients=CLIENTS)
    keys = [
        pki.ca.key,
        pki.server.key,
        pki.audit_signing_key,
        *(p.key for p in pki.clients.values()),
    ]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_client_certificate_names_the_client_for_client_auth(tmp_path: Path) -> None:
    """A client certificate's CN is the client id and its EKU is clientAuth."""
    pki = init_dev_pki(tmp_path, clients=CLIENTS)
    cert = _cert(pki.clients["portal-demo"].cert)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert cn == "portal-demo"
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_server_certificate_has_the_server_names(tmp_path: Path) -> None:
    """The server certificate carries DNS and IP SANs and serverAuth."""
    pki = init_dev_pki(tmp_path, clients=[], server_names=("localhost", "127.0.0.1", "::1"))
    cert = _cert(pki.server.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_second_run_keeps_files_and_completes_missing_ones(tmp_path: Path) -> None:
    """Running again changes nothing, and a new client is issued by the existing CA."""
    first = init_dev_pki(tmp_path, clients=["motcua-demo"])
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    second = init_dev_pki(tmp_path, clients=["motcua-demo", "portal-demo"])
    assert all(p.read_bytes() == data for p, data in before.items())
    _cert(second.clients["portal-demo"].cert).verify_directly_issued_by(_cert(first.ca.cert))


def test_force_starts_over(tmp_path: Path) -> None:
    """force=True issues a new CA and new certificates."""
    first_ca = init_dev_pki(tmp_path, clients=CLIENTS).ca.cert.read_bytes()
    pki = init_dev_pki(tmp_path, clients=CLIENTS, force=True)
    assert pki.ca.cert.read_bytes() != first_ca
    _cert(pki.clients["motcua-demo"].cert).verify_directly_issued_by(_cert(pki.ca.cert))


def test_certificate_expiry_is_in_the_future(tmp_path: Path) -> None:
    """certificate_expiry reads notAfter as an aware UTC datetime, within the CA's life."""
    pki = init_dev_pki(tmp_path, clients=CLIENTS)
    expiry = certificate_expiry(pki.server.cert)
    now = dt.datetime.now(dt.UTC)
    assert now + dt.timedelta(days=365) < expiry <= certificate_expiry(pki.ca.cert)


@pytest.mark.parametrize("bad", ["../evil", "ca", "Upper", "x"])
def test_bad_client_ids_are_refused(tmp_path: Path, bad: str) -> None:
    """Client ids that are not valid ids (or would overwrite the CA) are refused."""
    with pytest.raises(ValueError, match="bad client id"):
        init_dev_pki(tmp_path, clients=[bad])
