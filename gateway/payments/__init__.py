"""Payments: the state machine, the idempotent ledger and the transactional outbox."""

from __future__ import annotations

from gateway.payments.ledger import (
    VIETNAM_TIME,
    IdempotencyConflict,
    PaymentLedger,
    PaymentNotFound,
    TransitionResult,
)
from gateway.payments.model import (
    ALLOWED_TRANSITIONS,
    EVENT_TYPES,
    FINAL,
    Payment,
    PaymentIdentity,
    PaymentStatus,
    may_move,
    sources_of,
)
from gateway.payments.outbox import Outbox, OutboxEvent, OutboxStats, OutboxStatus

__all__ = [
    "ALLOWED_TRANSITIONS",
    "EVENT_TYPES",
    "FINAL",
    "VIETNAM_TIME",
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
    "TransitionResult",
    "may_move",
    "sources_of",
]
