"""Thresholds, windows and targets of the security detectors (``[security]`` in the TOML)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SecurityEventKind(enum.StrEnum):
    """What happened, in one word; grouped as the detectors count them."""

    # -- inbound authentication and authorisation (the auth middlewares) --
    AUTH_FAILED = "auth_failed"
    UNKNOWN_CLIENT = "unknown_client"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED_REQUEST = "replayed_request"
    STALE_REQUEST = "stale_request"
    NONCE_STORE_FULL = "nonce_store_full"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    # -- provider callbacks and the payer's return (the payment service) --
    BAD_CALLBACK = "bad_callback"
    BAD_CALLBACK_CHECKSUM = "bad_callback_checksum"
    BAD_CALLBACK_PARTNER = "bad_callback_partner"
    MALFORMED_CALLBACK = "malformed_callback"
    CALLBACK_ADDRESS_REFUSED = "callback_address_refused"
    BAD_RETURN_CHECKSUM = "bad_return_checksum"
    MALFORMED_RETURN = "malformed_return"
    # -- provider and gateway disagree about money (the ledger) --
    AMOUNT_MISMATCH = "amount_mismatch"
    LATE_PAYMENT = "late_payment"
    FLAGGED_BY_PROVIDER = "flagged_by_provider"
    REVERSED_BY_PROVIDER = "reversed_by_provider"
    REFUNDED_BY_PROVIDER = "refunded_by_provider"
    RESULT_AFTER_PAID = "result_after_paid"
    # -- certificates (the certificate watch, the adapters' TLS) --
    CERTIFICATE_EXPIRING = "certificate_expiring"
    UNEXPECTED_PEER_CERTIFICATE = "unexpected_peer_certificate"
    # -- the detectors' own output --
    ALERT = "alert"


#: Events that count as authentication failures (the auth middleware's kinds).
AUTH_FAILURE_KINDS: tuple[SecurityEventKind, ...] = (
    SecurityEventKind.AUTH_FAILED,
    SecurityEventKind.UNKNOWN_CLIENT,
    SecurityEventKind.BAD_SIGNATURE,
    SecurityEventKind.REPLAYED_REQUEST,
    SecurityEventKind.STALE_REQUEST,
)
#: Callback events that count towards the bad-callback surge.
BAD_CALLBACK_KINDS: tuple[SecurityEventKind, ...] = (SecurityEventKind.BAD_CALLBACK_CHECKSUM,)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BurstDetectorConfig(_Section):
    """Alert when ``threshold`` events fall within ``window_seconds`` for one subject."""

    threshold: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class EnumerationDetectorConfig(_Section):
    """Alert when one client verifies ``min_distinct_ids`` distinct ids within the window
    and at least ``mismatch_rate`` of its verifications there did not match."""

    min_distinct_ids: int = Field(default=50, ge=1)
    mismatch_rate: float = Field(default=0.5, gt=0, le=1)
    window_seconds: float = Field(default=3600, gt=0)
    mismatch_verdicts: tuple[str, ...] = ("mismatch", "not_found")


class VolumeDetectorConfig(_Section):
    """Alert when a client's requests in one window reach ``factor`` × its usual
    (mean over the previous ``baseline_seconds``), and at least ``min_requests``."""

    factor: float = Field(default=5.0, gt=1)
    window_seconds: float = Field(default=60, gt=0)
    baseline_seconds: float = Field(default=3600, gt=0)
    min_requests: int = Field(default=200, ge=1)


class AlertWebhookConfig(_Section):
    """Where alerts are also posted, signed as Standard Webhooks."""

    url: str
    #: ``whsec_`` + base64 key, as for the clients' webhooks.
    secret: SecretStr
    timeout_seconds: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=3, ge=1, le=10)


class CertificateWatch(_Section):
    """A PEM certificate whose expiry is watched."""

    path: Path
    role: Literal["gateway", "client", "peer", "ca"]


class SecurityConfig(_Section):
    """The detectors' thresholds, the alert cool-down and targets, the watched certificates."""

    auth_failures: BurstDetectorConfig = BurstDetectorConfig(threshold=10, window_seconds=60)
    auth_failure_kinds: tuple[SecurityEventKind, ...] = AUTH_FAILURE_KINDS
    bad_callbacks: BurstDetectorConfig = BurstDetectorConfig(threshold=5, window_seconds=300)
    bad_callback_kinds: tuple[SecurityEventKind, ...] = BAD_CALLBACK_KINDS
    enumeration: EnumerationDetectorConfig = EnumerationDetectorConfig()
    volume: VolumeDetectorConfig = VolumeDetectorConfig()
    #: The same alert (detector and subject) is not raised again within this time.
    cooldown_seconds: float = Field(default=900, ge=0)
    alert_webhook: AlertWebhookConfig | None = None
    #: Warn (event ``certificate_expiring``) this many days before a certificate expires.
    cert_expiry_days: int = Field(default=30, ge=1)
    certificates: list[CertificateWatch] = Field(default_factory=list)
    #: How often watched certificates are checked.
    cert_check_interval_seconds: float = Field(default=3600, gt=0)
    #: How often recorded events and alerts are written to the store.
    persist_interval_seconds: float = Field(default=2.0, gt=0)
