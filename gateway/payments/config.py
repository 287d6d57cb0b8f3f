"""``[payments]``: the payment service's own settings (expiry, retention, polling, webhooks).

The providers themselves (endpoints, keys, resilience) are national systems:
``[upstreams.dvcqg]`` and ``[upstreams.vnpay]`` (gateway/config.py). A config module
(a leaf: stdlib and pydantic only).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaymentPollingConfig(_Section):
    """The worker that recovers lost callbacks by asking the provider, and expires payments."""

    #: A payment left pending this long without news is queried for the first time.
    pending_age_seconds: float = Field(default=120.0, ge=0)
    #: Then again after this long, doubling each time up to ``backoff_max_seconds``.
    backoff_initial_seconds: float = Field(default=60.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    #: How often the worker wakes up.
    interval_seconds: float = Field(default=5.0, gt=0)
    #: Payments handled per wake-up (each query is one upstream call).
    batch_size: int = Field(default=50, ge=1, le=1000)
    #: Past expiry, how long the last query may keep failing before the payment expires anyway.
    expiry_query_grace_seconds: float = Field(default=3600.0, ge=0)


class WebhookDispatchConfig(_Section):
    """How hard and how long the dispatcher tries (``[payments.webhooks]``)."""

    #: After this long without a 2xx (counted from the event, or an operator's retry): dead letter.
    max_age_seconds: float = Field(default=3 * 24 * 3600.0, gt=0)
    backoff_initial_seconds: float = Field(default=5.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    #: How long a claimed event stays ours; must exceed ``attempt_timeout_seconds``.
    lease_seconds: float = Field(default=60.0, gt=0)
    attempt_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Idle wait between polls when nothing was due.
    poll_interval_seconds: float = Field(default=1.0, gt=0)


class PaymentsSection(_Section):
    """Online fee payment (issue #4): expiry, retention, polling and webhook delivery."""

    enabled: bool = True
    default_provider: Literal["dvcqg", "vnpay"] = "dvcqg"
    #: How long a payment stays payable (fractions allowed: tests use a second or two).
    expiry_seconds: float = Field(default=900.0, gt=0, le=7 * 24 * 3600)
    #: Days a payment stays final before the payer's name and clear id are erased
    #: (the masked id and its keyed digest stay; see gateway.payments.personal_data).
    #: Days, not seconds: a retention period is set by policy in days.
    personal_data_retention_days: int = Field(default=30, ge=0, le=3650)
    polling: PaymentPollingConfig = Field(default_factory=PaymentPollingConfig)
    webhooks: WebhookDispatchConfig = Field(default_factory=WebhookDispatchConfig)
