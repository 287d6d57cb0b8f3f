"""Thresholds, windows and targets of the security detectors (``[security]`` in the TOML)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.security.events import AUTH_FAILURE_KINDS, BAD_CALLBACK_KINDS, SecurityEventKind


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
