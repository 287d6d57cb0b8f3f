"""Certificates near expiry (the gateway's, the clients', the peers') and unexpected peers.

:func:`check_certificates` reads each watched PEM, sets
``lienthong_certificate_expiry_seconds{subject,role}`` and emits
``certificate_expiring`` for those within ``warn_days`` (expired ones too,
with a negative ``days_left``).(A peer's pinned certificate is checked in the TLS handshake by
:mod:`adapters.http`; a refusal raises ``unexpected_peer_certificate``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from cryptography import x509
from cryptography.x509.oid import NameOID
from prometheus_client import Gauge

from gateway.security import events as security_events
from gateway.security.config import CertificateWatch
from gateway.security.events import SecurityEventKind
from gateway.store import Clock, utc_now

CERTIFICATE_EXPIRY = Gauge(
    "lienthong_certificate_expiry_seconds",
    "Seconds until a watched certificate expires (negative: expired)",
    ["subject", "role"],
)

_log = structlog.get_logger("security.certificates")


@dataclass(frozen=True)
class CertificateStatus:
    """One certificate's subject, role and time left."""

    subject: str
    role: str
    not_after: datetime
    seconds_left: float
    expiring: bool


def subject_of(cert: x509.Certificate) -> str:
    """The certificate's CN (or the whole subject when it has none)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def certificate_status(
    cert: x509.Certificate, role: str, *, now: datetime, warn_days: int, source: str = ""
) -> CertificateStatus:
    """Gauge the certificate's expiry and emit ``certificate_expiring`` when it is near."""
    subject = subject_of(cert)
    not_after = cert.not_valid_after_utc
    seconds_left = (not_after - now).total_seconds()
    CERTIFICATE_EXPIRY.labels(subject, role).set(seconds_left)
    expiring = seconds_left <= warn_days * 86_400
    if expiring:
        security_events.emit(
            SecurityEventKind.CERTIFICATE_EXPIRING,
            subject=subject,
            role=role,
            source=source,
            not_after=not_after.isoformat(),
            days_left=round(seconds_left / 86_400, 1),
        )
    return CertificateStatus(subject, role, not_after, seconds_left, expiring)


def check_certificates(
    watches: Sequence[CertificateWatch], *, now: datetime, warn_days: int
) -> list[CertificateStatus]:
    """Check every watched PEM file; unreadable files are logged and skipped."""
    statuses = []
    for watch in watches:
        try:
            cert = x509.load_pem_x509_certificate(watch.path.read_bytes())
        except (OSError, ValueError) as exc:
            _log.error(
                "security.certificate_unreadable", path=str(watch.path), error=type(exc).__name__
            )
            continue
        statuses.append(
            certificate_status(
                cert, watch.role, now=now, warn_days=warn_days, source=watch.path.name
            )
        )
    return statuses


async def watch_certificates(
    watches: Sequence[CertificateWatch],
    *,
    warn_days: int,
    interval_seconds: float,
    stop: asyncio.Event,
    clock: Clock = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Check the watched certificates now and every ``interval_seconds`` until ``stop``."""
    while not stop.is_set():
        check_certificates(watches, now=clock(), warn_days=warn_days)
        await sleep(interval_seconds)
