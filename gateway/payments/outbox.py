"""The transactional outbox: events written with the change that caused them.

An event row is inserted in the same transaction as the payment update that
produced it, so an event exists if and only if the change committed. Events of
one payment are ordered by the payment's version: an event is only *due* when
no earlier event of its payment is still pending, so a receiver never sees
``payment.paid`` before the ``payment.pending`` that preceded it. A dead
(dead-lettered) event does not hold back the later ones: they are delivered,
in order among themselves, and the dead one waits for an operator's ``retry``
(after which it arrives late; receivers order by the event's ``version``).

Claiming takes a lease (``claimed_by`` / ``claim_expires_at``) in a short
transaction; on PostgreSQL the candidate rows are selected ``FOR UPDATE SKIP
LOCKED`` so several instances claim disjoint batches without waiting on each
other. An instance that dies mid-delivery loses its lease and the event is
claimed again (delivery is at least once; receivers dedupe by event id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway.payments.model import Payment, new_event_id
from gateway.store import Clock, Row, Store, StoreError, Transaction, from_us, to_us


class OutboxStatus(StrEnum):
    """Where an event is in its delivery."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxEvent:
    """One event to deliver; ``body`` is the exact JSON text that is sent and signed."""

    id: str
    payment_id: str
    payment_version: int
    client_id: str
    type: str
    body: str
    status: OutboxStatus
    attempts: int
    created_at: datetime
    retry_window_start: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class OutboxStats:
    """Outbox depth by status and the age of the oldest undelivered event (for metrics)."""

    pending: int
    dead: int
    oldest_pending_age: timedelta | None


def _event(row: Row) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"],
        payment_id=row["payment_id"],
        payment_version=int(row["payment_version"]),
        client_id=row["client_id"],
        type=row["type"],
        body=row["body"],
        status=OutboxStatus(row["status"]),
        attempts=int(row["attempts"]),
        created_at=from_us(row["created_at"]),
        retry_window_start=from_us(row["retry_window_start"]),
        next_attempt_at=from_us(row["next_attempt_at"]),
        delivered_at=from_us(row["delivered_at"]) if row["delivered_at"] is not None else None,
        last_error=row["last_error"],
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event_data(payment: Payment) -> dict[str, Any]:
    """What an event says about a payment. Never the payer's name or id number."""
    return {
        "payment_id": payment.id,
        "reference": payment.reference,
        "status": str(payment.status),
        "amount": payment.amount,
        "paid_amount": payment.paid_amount,
        "currency": payment.currency,
        "dossier_code": payment.dossier_code,
        "procedure_code": payment.procedure_code,
        "agency_code": payment.agency_code,
        "provider": payment.provider,
        "provider_txn_id": payment.provider_txn_id,
        "reason": payment.status_reason,
        "review_reason": payment.review_reason,
        "version": payment.version,
        "updated_at": _iso(payment.updated_at),
    }


#: The outbox row of an event, its parameters from :func:`event_row`.
INSERT_EVENT = (
    "INSERT INTO outbox_events (id, payment_id, payment_version, client_id, type, body,"
    " status, attempts, created_at, retry_window_start, next_attempt_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)"
)


def event_row(payment: Payment, event_type: str, now: datetime) -> tuple[str, tuple[Any, ...]]:
    """A new event about ``payment``'s current version: its id and :data:`INSERT_EVENT`'s
    parameters (id, payment id, version, client id, type, body, created at)."""
    event_id = new_event_id()
    envelope = {"id": event_id, "type": event_type, "created_at": _iso(now)}
    body = json.dumps(
        {**envelope, "data": event_data(payment)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    params = (event_id, payment.id, payment.version, payment.client_id, event_type, body)
    return event_id, (*params, to_us(now))


class Outbox:
    """The outbox table: written by the ledger, drained by the webhook dispatcher."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self._store = store
        self._clock = clock or store.clock

    async def add(self, tx: Transaction, payment: Payment, event_type: str) -> str:
        """Insert the event for ``payment``'s current version inside ``tx``; its id."""
        event_id, params = event_row(payment, event_type, self._clock())
        await tx.execute(INSERT_EVENT, *params)
        return event_id

    async def claim_due(self, claimer: str, lease: timedelta, limit: int) -> list[OutboxEvent]:
        """Lease up to ``limit`` due events, at most the earliest pending one per payment."""
        now = self._clock()
        claim = (
            "UPDATE outbox_events SET claimed_by = $1, claim_expires_at = $2"  # noqa: S608 (constant)
            " WHERE id IN ("
            "  SELECT e.id FROM outbox_events e"
            "  WHERE e.status = 'pending' AND e.next_attempt_at <= $3"
            "   AND (e.claim_expires_at IS NULL OR e.claim_expires_at <= $3)"
            "   AND NOT EXISTS (SELECT 1 FROM outbox_events p"
            "    WHERE p.payment_id = e.payment_id AND p.payment_version < e.payment_version"
            "     AND p.status = 'pending')"
            "  ORDER BY e.next_attempt_at, e.created_at, e.id"
            f"  LIMIT $4 {self._store.dialect.skip_locked}) RETURNING *"
        )
        async with self._store.transaction() as tx:
            rows = await tx.fetch_all(
                claim,
                claimer,
                to_us(now + lease),
                to_us(now),
                limit,
            )
        events = [_event(r) for r in rows]
        events.sort(key=lambda e: (e.next_attempt_at, e.created_at, e.id))
        return events

    async def mark_delivered(self, event_id: str, claimer: str) -> bool:
        """Record a successful delivery (only if ``claimer`` still holds the lease)."""
        return await self._finish(
            "status = 'delivered', delivered_at = $3, last_error = NULL",
            event_id,
            claimer,
            to_us(self._clock()),
        )

    async def schedule_retry(
        self, event_id: str, claimer: str, next_attempt_at: datetime, error: str
    ) -> bool:
        """Record a failed attempt and when to try again."""
        return await self._finish(
            "next_attempt_at = $3, last_error = $4",
            event_id,
            claimer,
            to_us(next_attempt_at),
            error,
        )

    async def dead_letter(self, event_id: str, claimer: str, error: str) -> bool:
        """Give up on an event: it waits for an operator's ``retry``."""
        return await self._finish("status = 'dead', last_error = $3", event_id, claimer, error)

    async def _finish(self, assignments: str, event_id: str, claimer: str, *params: Any) -> bool:
        async with self._store.transaction() as tx:
            changed = await tx.execute(
                f"UPDATE outbox_events SET {assignments}, attempts = attempts + 1,"  # noqa: S608 (fixed fragments)
                " claimed_by = NULL, claim_expires_at = NULL"
                " WHERE id = $1 AND claimed_by = $2 AND status = 'pending'",
                event_id,
                claimer,
                *params,
            )
        return changed == 1

    async def get(self, event_id: str) -> OutboxEvent | None:
        """One event by id."""
        row = await self._store.fetch_one("SELECT * FROM outbox_events WHERE id = $1", event_id)
        return _event(row) if row else None

    async def list_events(
        self,
        status: OutboxStatus | None = None,
        *,
        payment_id: str | None = None,
        limit: int = 100,
    ) -> list[OutboxEvent]:
        """Events for operators, oldest first, filtered by status and/or payment."""
        rows = await self._store.fetch_all(
            "SELECT * FROM outbox_events WHERE ($1 = '' OR status = $1)"
            " AND ($2 = '' OR payment_id = $2)"
            " ORDER BY created_at, payment_id, payment_version LIMIT $3",
            str(status) if status else "",
            payment_id or "",
            limit,
        )
        return [_event(r) for r in rows]

    async def retry(self, event_id: str) -> bool:
        """Operator: put a dead event back in line now, with a fresh retry window."""
        return await self._requeue(event_id, OutboxStatus.DEAD)

    async def replay(self, event_id: str) -> bool:
        """Operator: send a delivered event again (same id, so receivers can dedupe)."""
        return await self._requeue(event_id, OutboxStatus.DELIVERED)

    async def _requeue(self, event_id: str, from_status: OutboxStatus) -> bool:
        now_us = to_us(self._clock())
        async with self._store.transaction() as tx:
            changed = await tx.execute(
                "UPDATE outbox_events SET status = 'pending', attempts = 0,"
                " retry_window_start = $2, next_attempt_at = $2, delivered_at = NULL,"
                " claimed_by = NULL, claim_expires_at = NULL"
                " WHERE id = $1 AND status = $3",
                event_id,
                now_us,
                str(from_status),
            )
        return changed == 1

    async def stats(self) -> OutboxStats:
        """Depth and age, for the outbox gauges."""
        row = await self._store.fetch_one(
            "SELECT"
            " COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,"
            " COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS dead,"
            " MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest"
            " FROM outbox_events"
        )
        if row is None:  # an aggregate always returns one row
            raise StoreError("outbox statistics returned no row")
        oldest = row["oldest"]
        age = self._clock() - from_us(int(oldest)) if oldest is not None else None
        return OutboxStats(
            pending=int(row["pending"]), dead=int(row["dead"]), oldest_pending_age=age
        )
