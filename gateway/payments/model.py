"""The payment and its state machine.

States and the only moves between them (anything else is refused)::

    created ──► pending ──► paid
       │           ├──────► failed
       │           ├──────► cancelled
       │           ├──────► expired
       │           └──────► needs_review ──► paid | failed   (a person decides)
       └──► (any target of pending, directly: a callback may beat our own "pending")

``paid``, ``failed``, ``cancelled`` and ``expired`` are final: nothing leaves
them, so a late or duplicated provider message can never move a payment
backwards. ``needs_review`` (the provider reported a paid amount that differs
from the bill) is not final but only an operator's explicit transition leaves
it; provider results never do.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class PaymentStatus(StrEnum):
    """Where a payment is in its life."""

    CREATED = "created"
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    NEEDS_REVIEW = "needs_review"


FINAL: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
)

_OPEN_TARGETS = frozenset(
    {
        PaymentStatus.PAID,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.EXPIRED,
        PaymentStatus.NEEDS_REVIEW,
    }
)

#: from-state → the states it may move to. Final states have no entry moves out.
ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: _OPEN_TARGETS | {PaymentStatus.PENDING},
    PaymentStatus.PENDING: _OPEN_TARGETS,
    PaymentStatus.NEEDS_REVIEW: frozenset({PaymentStatus.PAID, PaymentStatus.FAILED}),
    PaymentStatus.PAID: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
}


def sources_of(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """Every state from which ``target`` may be reached."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def may_move(source: PaymentStatus, target: PaymentStatus) -> bool:
    """Whether the table allows ``source`` → ``target``."""
    return target in ALLOWED_TRANSITIONS[source]


#: The webhook event each arrival state produces (``created`` produces none).
EVENT_TYPES: dict[PaymentStatus, str] = {
    PaymentStatus.PENDING: "payment.pending",
    PaymentStatus.PAID: "payment.paid",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.CANCELLED: "payment.cancelled",
    PaymentStatus.EXPIRED: "payment.expired",
    PaymentStatus.NEEDS_REVIEW: "payment.needs_review",
}


def _random_base32(length: int) -> str:
    raw = base64.b32encode(secrets.token_bytes((length * 5 + 7) // 8)).decode()
    return raw.rstrip("=")[:length]


def new_payment_id() -> str:
    """An opaque payment id: ``pay_`` + 20 random base32 characters (100 bits)."""
    return "pay_" + _random_base32(20).lower()


def new_reference() -> str:
    """The reference given to providers: 20 characters of ``[A-Z0-9]`` (``LT`` + 90 bits)."""
    return "LT" + _random_base32(18)


def new_event_id() -> str:
    """An outbox event id (the ``webhook-id``): ``evt_`` + 20 base32 characters."""
    return "evt_" + _random_base32(20).lower()


@dataclass(frozen=True)
class PaymentIdentity:
    """What the ledger assigns to a new payment before the caller builds it."""

    id: str
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class Payment:
    """One bill and what became of it. ``amount`` and ``paid_amount`` are whole dong.

    ``payer_name`` and ``payer_id_number`` are what the provider is given when the
    payment is registered; they are left out of ``repr`` (and of events and logs)
    and erased (None) once the payment has been final for the retention period
    (:mod:`gateway.payments.personal_data`). ``payer_id_digest`` (keyed HMAC) and
    ``payer_id_masked`` (``092*******34``) stay for good.
    """

    id: str
    reference: str
    client_id: str
    provider: str
    status: PaymentStatus
    amount: int
    currency: str
    dossier_code: str
    procedure_code: str
    agency_code: str
    fee_lines: list[dict[str, Any]]
    return_url: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    payer_name: str | None = field(default=None, repr=False)
    payer_id_number: str | None = field(default=None, repr=False)
    payer_id_digest: str | None = None
    payer_id_masked: str | None = None
    pay_url: str | None = None
    provider_txn_id: str | None = None
    paid_amount: int | None = None
    status_reason: str | None = None
    version: int = 1

    @property
    def is_final(self) -> bool:
        """Nothing will ever change this payment again."""
        return self.status in FINAL
