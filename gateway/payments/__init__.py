"""Payments: the state machine, the idempotent ledger and the transactional outbox."""

from __future__ import annotations

from gateway.payments.ledger import (
    IdempotencyConflict,
    PaymentLedger,
    PaymentNotFound,
    TransitionResult,
)
from gateway.payments.model import (
    ALLOWED_TRANSITIONS,
    EVENT_TYPES,
    FINAL,
    DisputedMoney,
    Payment,
    PaymentIdentity,
    PaymentStatus,
    ReviewReason,
    may_move,
    sources_of,
)
from gateway.payments.outbox import Outbox, OutboxEvent, OutboxStats, OutboxStatus

__all__ = [
    "ALLOWED_TRANSITIONS",
    "EVENT_TYPES",
    "FINAL",
    "DisputedMoney",
    "IdempotencyConflict",
    "Outbox",
    "OutboxEvent",
    "OutboxStats",
    "OutboxStatus",
    "Payment",
    "PaymentIdentity",
    "PaymentLedger",
    "PaymentNotFound",
    "PaymentStatus",
    "ReviewReason",
    "TransitionResult",
    "may_move",
    "sources_of",
]
