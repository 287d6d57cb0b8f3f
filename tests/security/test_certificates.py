"""Certificate expiry is gauged, and near expiry or an unexpected peer is an event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.security import (
    CERTIFICATE_EXPIRY,
    CertificateWatch,
    check_certificates,
    check_peer_certificate,
)
from gateway.security import events as security_events

from .conftest import WALL


def _certificate(cn: str, not_after: datetime) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, object]]]]:
    """The security events emitted during the test."""
    seen: list[tuple[str, dict[str, object]]] = []
    unsubscribe = security_events.subscribe(lambda kind, fields: seen.append((kind, dict(fields))))
    yield seen
    unsubscribe()


def test_expiring_certificates_are_reported(
    tmp_path: Path, events: list[tuple[str, dict[str, object]]]
) -> None:
    """A certificate within the warning days is an event; one beyond it is only gauged."""
    soon = tmp_path / "soon.pem"
    later = tmp_path / "later.pem"
    for path, cn, days in ((soon, "gw-soon", 29), (later, "gw-later", 31)):
        cert = _certificate(cn, WALL + timedelta(days=days))
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    statuses = check_certificates(
        [CertificateWatch(path=soon, role="gateway"), CertificateWatch(path=later, role="client")],
        now=WALL,
        warn_days=30,
    )
    assert [(s.subject, s.expiring) for s in statuses] == [("gw-soon", True), ("gw-later", False)]
    assert [(k, f["subject"]) for k, f in events] == [("certificate_expiring", "gw-soon")]
    gauge = CERTIFICATE_EXPIRY.labels("gw-later", "client")._value.get()
    assert gauge == pytest.approx(31 * 86_400)


def test_unexpected_peer_certificate(events: list[tuple[str, dict[str, object]]]) -> None:
    """A peer whose certificate matches no pinned fingerprint is refused and reported."""
    der = _certificate("peer.local", WALL + timedelta(days=200)).public_bytes(
        serialization.Encoding.DER
    )
    good = hashlib.sha256(der).hexdigest()
    assert check_peer_certificate(der, "population", pinned_sha256=[good], now=WALL, warn_days=30)
    assert not check_peer_certificate(
        der, "population", pinned_sha256=["00" * 32], now=WALL, warn_days=30
    )
    assert [k for k, _ in events] == ["unexpected_peer_certificate"]
