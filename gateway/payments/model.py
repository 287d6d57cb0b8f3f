"""The payment and its state machine.

States and the only moves between them (anything else is refused)::

    created ──► pending ──► paid ──────────────► needs_review
       │           ├──────► failed ────────────►      │
       │           ├──────► cancelled ─────────►      │
       │           ├──────► expired ───────────►      │
       │           └──────► needs_review ──► paid | failed   (a person decides)
       └──► (any target of pending, directly: a callback may beat our own "pending")

``paid``, ``failed``, ``cancelled`` and ``expired`` are final for everything but
evidence about the payer's money: a provider's verified word that money was
taken after all (a late ``paid``, or debited but flagged), or that money went
back (reversed, refunded), moves a final payment to ``needs_review`` with a
:class:`ReviewReason`. No other message moves a final payment, so a late or
duplicated provider message can never move it backwards. ``needs_review`` is
not final, but only an operator's explicit transition leaves it; provider
results never do.
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

_TO_REVIEW = frozenset({PaymentStatus.NEEDS_REVIEW})

#: from-state → the states it may move to. A final state only reaches needs_review.
ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: _OPEN_TARGETS | {PaymentStatus.PENDING},
    PaymentStatus.PENDING: _OPEN_TARGETS,
    PaymentStatus.NEEDS_REVIEW: frozenset({PaymentStatus.PAID, PaymentStatus.FAILED}),
    PaymentStatus.PAID: _TO_REVIEW,
    PaymentStatus.FAILED: _TO_REVIEW,
    PaymentStatus.CANCELLED: _TO_REVIEW,
    PaymentStatus.EXPIRED: _TO_REVIEW,
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


class ReviewReason(StrEnum):
    """Why a payment is in ``needs_review``: its ``status_reason`` there, in events and the API."""

    #: Paid with an amount other than the bill (or a fraction of a dong).
    AMOUNT_MISMATCH = "amount_mismatch"
    #: A verified "paid" arrived after the payment had failed / been cancelled / expired.
    PAID_AFTER_FAILED = "paid_after_failed"
    PAID_AFTER_CANCELLED = "paid_after_cancelled"
    PAID_AFTER_EXPIRED = "paid_after_expired"
    #: The provider debited the payer but flags the transaction as suspicious.
    FLAGGED_BY_PROVIDER = "flagged_by_provider"
    #: The provider reversed the transaction: the money went back to the payer.
    REVERSED_BY_PROVIDER = "reversed_by_provider"
    #: The provider reports a refund (in progress, sent to the bank, or refused).
    REFUNDED_BY_PROVIDER = "refunded_by_provider"


#: The review reason of a late "paid", by the final state it found.
PAID_AFTER: dict[PaymentStatus, ReviewReason] = {
    PaymentStatus.FAILED: ReviewReason.PAID_AFTER_FAILED,
    PaymentStatus.CANCELLED: ReviewReason.PAID_AFTER_CANCELLED,
    PaymentStatus.EXPIRED: ReviewReason.PAID_AFTER_EXPIRED,
}


class DisputedMoney(StrEnum):
    """What a provider may report that is neither paid nor unpaid: money moved, people decide."""

    FLAGGED = "flagged"
    REVERSED = "reversed"
    REFUNDED = "refunded"


#: The review reason each disputed report gives a payment.
DISPUTE_REASONS: dict[DisputedMoney, ReviewReason] = {
    DisputedMoney.FLAGGED: ReviewReason.FLAGGED_BY_PROVIDER,
    DisputedMoney.REVERSED: ReviewReason.REVERSED_BY_PROVIDER,
    DisputedMoney.REFUNDED: ReviewReason.REFUNDED_BY_PROVIDER,
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
        """Only evidence about the payer's money (to needs_review) can still change it."""
        return self.status in FINAL

    @property
    def review_reason(self) -> str | None:
        """Why the payment waits for people (its ``status_reason`` while in needs_review)."""
        return self.status_reason if self.status is PaymentStatus.NEEDS_REVIEW else None
