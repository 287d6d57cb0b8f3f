"""The dev PKI that ``lienthong certs init`` writes (never for production).

One directory (``certs/dev/``, git-ignored) holds a dev CA (EC P-256), the
gateway's server certificate (SANs for each server name), one client
certificate per client (CN = client id, clientAuth) and an Ed25519 key that
signs the audit log. Private keys are written 0600. Running it again keeps
what exists (``force=True`` starts over); certificates missing from an
existing directory are issued by the CA already there.

:func:`ensure_dev_pki` is the one call the process runner and the audit log's
start-up share (it lives here, a leaf, so neither imports the other).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from gateway.config import Settings

CA_VALIDITY = dt.timedelta(days=5 * 365)
LEAF_VALIDITY = dt.timedelta(days=825)
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


@dataclass(frozen=True)
class KeyPair:
    """A certificate file and its private key file."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class DevPKI:
    """Where :func:`init_dev_pki` put everything."""

    directory: Path
    ca: KeyPair
    server: KeyPair
    clients: dict[str, KeyPair]
    #: Ed25519 (PKCS#8 PEM) key for signing the audit log.
    audit_signing_key: Path


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically; private files are created 0600 and never exist with wider rights."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, private=True)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write(path, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lienthong dev"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue_ca(
    pair: KeyPair, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("lienthong dev CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(pair.key, key)
    _write_cert(pair.cert, cert)
    return cert, key


def _load_ca(pair: KeyPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pair.key} is not an EC private key")
    return cert, key


def _san(server_names: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for server_name in server_names:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(server_name)))
        except ValueError:
            names.append(x509.DNSName(server_name))
    return x509.SubjectAlternativeName(names)


def _issue_leaf(
    pair: KeyPair,
    common_name: str,
    usage: x509.ObjectIdentifier,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    now: dt.datetime,
    server_names: Sequence[str] = (),
) -> None:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server_names:
        builder = builder.add_extension(_san(server_names), critical=False)
    _write_key(pair.key, key)
    _write_cert(pair.cert, builder.sign(ca_key, hashes.SHA256()))


def init_dev_pki(
    directory: Path,
    *,
    clients: list[str],
    server_names: Sequence[str] = ("localhost", "127.0.0.1"),
    force: bool = False,
) -> DevPKI:
    """Create or complete the dev PKI in ``directory``, keeping existing files unless ``force``."""
    for client_id in clients:
        if not _CLIENT_ID.match(client_id) or client_id in ("ca", "server", "audit-signing"):
            raise ValueError(f"bad client id {client_id!r}")
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / ".gitignore").exists():
        _write(directory / ".gitignore", b"# generated dev PKI: never commit\n*\n", private=False)
    pki = DevPKI(
        directory=directory,
        ca=KeyPair(directory / "ca.pem", directory / "ca.key"),
        server=KeyPair(directory / "server.pem", directory / "server.key"),
        clients={c: KeyPair(directory / f"{c}.pem", directory / f"{c}.key") for c in clients},
        audit_signing_key=directory / "audit-signing.key",
    )
    now = dt.datetime.now(dt.UTC)

    def missing(pair: KeyPair) -> bool:
        return force or not (pair.cert.exists() and pair.key.exists())

    renew_all = missing(pki.ca)
    ca = _issue_ca(pki.ca, now) if renew_all else _load_ca(pki.ca)
    if renew_all or missing(pki.server):
        _issue_leaf(
            pki.server, server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, ca, now, server_names
        )
    for client_id, pair in pki.clients.items():
        if renew_all or missing(pair):
            _issue_leaf(pair, client_id, ExtendedKeyUsageOID.CLIENT_AUTH, ca, now)
    if force or not pki.audit_signing_key.exists():
        _write_key(pki.audit_signing_key, ed25519.Ed25519PrivateKey.generate())
    return pki


def ensure_dev_pki(settings: Settings) -> None:
    """Generate the dev PKI (TLS certificates and the audit signing key) when it is missing."""
    if settings.tls.generate_dev_pki:
        init_dev_pki(settings.tls.dev_pki_dir, clients=[c.id for c in settings.clients])


def certificate_expiry(path: Path) -> dt.datetime:
    """When the (first) certificate in the PEM file at ``path`` expires (UTC)."""
    return x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc
