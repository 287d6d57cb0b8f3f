"""The payment ledger: every change one conditional update, with its event, in one transaction.

``transition`` is ``UPDATE payments … WHERE id = $id AND status IN (<allowed
sources>)`` plus the outbox insert, committed together. Whichever of several
concurrent writers (instances, callbacks, the poller, the payer's redirect)
commits first wins; the others match no row and get ``applied=False``. The
database settles every race, so the same code is correct on one SQLite file
and on a PostgreSQL cluster shared by many instances.

A transition that raises a security event (``amount_mismatch``,
``late_payment``, the provider's ``flagged_by_provider``,
``reversed_by_provider``, ``refunded_by_provider``) inserts the event's
``security_event_log`` row in the same transaction, and emits it to the
security stream (log, counter, detectors) after the commit: one row per
transition, whatever crashes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import structlog

from adapters.aliases import VIETNAM_TZ
from gateway.audit.record import masked
from gateway.errors import IdempotencyConflict, PaymentNotFound
from gateway.payments.model import (
    DISPUTE_REASONS,
    EVENT_TYPES,
    FINAL,
    PAID_AFTER,
    DisputedMoney,
    Payment,
    PaymentIdentity,
    PaymentStatus,
    ReviewReason,
    new_payment_id,
    new_reference,
    sources_of,
)
from gateway.payments.outbox import INSERT_EVENT, Outbox, event_row
from gateway.security import events as security_events
from gateway.security.events import SecurityEventKind
from gateway.store import Clock, Row, Store, Transaction, from_us, to_us
from gateway.store.base import Returns, Statement, Unit

_log = structlog.get_logger("payments.ledger")

_MAX_CREATE_ATTEMPTS = 3
#: Re-reads of a payment that another writer moved between our read and our update.
_MAX_APPLY_ATTEMPTS = 5

_OPEN = frozenset({PaymentStatus.CREATED, PaymentStatus.PENDING})
_UNPAID_FINAL = frozenset(PAID_AFTER)

#: The security event a move to needs_review raises, by its reason.
REVIEW_SECURITY_EVENTS: dict[ReviewReason, SecurityEventKind] = {
    ReviewReason.AMOUNT_MISMATCH: SecurityEventKind.AMOUNT_MISMATCH,
    ReviewReason.PAID_AFTER_FAILED: SecurityEventKind.LATE_PAYMENT,
    ReviewReason.PAID_AFTER_CANCELLED: SecurityEventKind.LATE_PAYMENT,
    ReviewReason.PAID_AFTER_EXPIRED: SecurityEventKind.LATE_PAYMENT,
    ReviewReason.FLAGGED_BY_PROVIDER: SecurityEventKind.FLAGGED_BY_PROVIDER,
    ReviewReason.REVERSED_BY_PROVIDER: SecurityEventKind.REVERSED_BY_PROVIDER,
    ReviewReason.REFUNDED_BY_PROVIDER: SecurityEventKind.REFUNDED_BY_PROVIDER,
}

#: What a provider may report to :meth:`PaymentLedger.apply_provider_result`.
Reported = PaymentStatus | DisputedMoney


class _LostIdempotencyRace(Exception):
    """Another writer committed the same idempotency key first; roll back and read theirs."""


@dataclass(frozen=True)
class TransitionResult:
    """What a transition did: ``applied`` is False when the payment was not in a source state."""

    applied: bool
    payment: Payment
    event_id: str | None = None


@dataclass(frozen=True)
class SecurityRecord:
    """A security event that belongs to a transition: stored and emitted with it."""

    kind: SecurityEventKind
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class _Move:
    """What a provider's report does to a payment found in one state."""

    target: PaymentStatus
    reason: str
    paid_amount: int | None = None
    security: SecurityEventKind | None = None


def payment_from_row(row: Row) -> Payment:
    """A stored row as a :class:`Payment`."""
    return Payment(
        id=row["id"],
        reference=row["reference"],
        client_id=row["client_id"],
        provider=row["provider"],
        status=PaymentStatus(row["status"]),
        amount=int(row["amount"]),
        currency=row["currency"],
        dossier_code=row["dossier_code"],
        procedure_code=row["procedure_code"],
        agency_code=row["agency_code"],
        fee_lines=json.loads(row["fee_lines"]),
        return_url=row["return_url"],
        created_at=from_us(row["created_at"]),
        updated_at=from_us(row["updated_at"]),
        expires_at=from_us(row["expires_at"]),
        payer_name=row["payer_name"],
        payer_id_number=row["payer_id_number"],
        payer_id_digest=row["payer_id_digest"],
        payer_id_masked=row["payer_id_masked"],
        pay_url=row["pay_url"],
        provider_txn_id=row["provider_txn_id"],
        paid_amount=int(row["paid_amount"]) if row["paid_amount"] is not None else None,
        status_reason=row["status_reason"],
        version=int(row["version"]),
    )


@dataclass(frozen=True)
class _Report:
    """What a provider reported, as :meth:`PaymentLedger.apply_provider_result` was given it."""

    reference: str
    status: Reported
    amount: int | None
    provider_txn_id: str | None
    reason: str
    whole_dong: bool


@dataclass(frozen=True)
class _Applied:
    """A unit's outcome: the payment as it is now, and the move if it was made."""

    payment: Payment
    #: The moves tried that another writer beat (the payment was read again after each).
    lost: list[_Move]
    #: None: the report moves nothing from the payment's state.
    move: _Move | None = None
    #: None with a move: every attempt lost its race.
    event_id: str | None = None
    security: SecurityRecord | None = None


_SELECT_BY_REFERENCE = "SELECT * FROM payments WHERE reference = $1"

#: One provider move: the status and version read are the condition, so it writes
#: exactly the predicted row (``_after``).
_MOVE = (
    "UPDATE payments SET status = $1, version = $2, updated_at = $3, provider_txn_id = $4,"
    " paid_amount = $5, status_reason = $6 WHERE id = $7 AND status = $8 AND version = $9"
)
#: The same move with its outbox row (and security event) in one PostgreSQL statement.
_MOVE_CTE = (
    f"WITH moved AS ({_MOVE} RETURNING id, client_id),"  # noqa: S608 (constant text, placeholders)
    " event AS (INSERT INTO outbox_events (id, payment_id, payment_version, client_id, type,"
    " body, status, attempts, created_at, retry_window_start, next_attempt_at)"
    " SELECT $10::text, moved.id, $2::integer, $11::text, $12::text, $13::text, 'pending', 0,"
    " $3::bigint, $3::bigint, $3::bigint FROM moved)"
)
_MOVE_CTE_SECURITY = (
    ", security AS (INSERT INTO security_event_log (time_us, instance, kind, client_id,"
    " remote, detail) SELECT $3::bigint, $14::text, $15::text, $16::text, $17::text,"
    " $18::text FROM moved)"
)
_MOVE_CTE_END = " SELECT COUNT(*) AS moved FROM moved"


def _read_by_reference(reference: str) -> Unit[Payment]:
    row = yield Statement(_SELECT_BY_REFERENCE, (reference,), Returns.ONE)
    if row is None:
        raise PaymentNotFound(reference)
    return payment_from_row(row)


def _after(payment: Payment, move: _Move, provider_txn_id: str | None, now: datetime) -> Payment:
    """The payment as ``move`` leaves it (what the conditional update writes)."""
    return dataclasses.replace(
        payment,
        status=move.target,
        version=payment.version + 1,
        updated_at=from_us(to_us(now)),
        provider_txn_id=provider_txn_id if provider_txn_id is not None else payment.provider_txn_id,
        paid_amount=move.paid_amount if move.paid_amount is not None else payment.paid_amount,
        status_reason=move.reason,
    )


def _security_for(payment: Payment, move: _Move, report: _Report) -> SecurityRecord | None:
    """The security event a move raises (a move to needs_review), with what it is about."""
    if move.security is None:
        return None
    return SecurityRecord(
        move.security,
        {
            "payment_id": payment.id,
            "reference": report.reference,
            "previous_status": str(payment.status),
            "reported": str(report.status),
            "billed": payment.amount,
            "paid": report.amount,
            "whole_dong": report.whole_dong,
            "provider_txn_id": report.provider_txn_id,
            "source": report.reason,
        },
    )


def _in_list(first: int, count: int) -> str:
    return ", ".join(f"${first + i}" for i in range(count))


class PaymentLedger:
    """Creates payments idempotently and moves them through the state machine.

    ``payer_digest`` (the audit key's subject digest) stores each payer id's keyed
    digest with the payment; without it the digest is left for the personal-data
    eraser's backfill. ``instance_id`` names the instance in the security events the
    ledger's own transactions write.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        *,
        payer_digest: Callable[[str], str] | None = None,
        instance_id: str = "gateway",
    ) -> None:
        self._store = store
        self._clock = clock or store.clock
        self.payer_digest = payer_digest
        self.outbox = Outbox(store, self._clock)
        #: The ``instance`` column of the security events the ledger's transactions write.
        self.instance_id = instance_id

    # -- creation ---------------------------------------------------------------------------

    async def create(
        self,
        client_id: str,
        idempotency_key: str,
        request_fingerprint: str,
        build: Callable[[PaymentIdentity], Payment],
    ) -> tuple[Payment, bool]:
        """Create the payment ``build`` returns, once per (client, key); ``(payment, replayed)``.

        The same key with the same fingerprint returns the stored payment (as it
        is now) with ``replayed=True``; with another fingerprint it raises
        :class:`IdempotencyConflict`. The key row and the payment row commit
        together, so concurrent creates with one key make exactly one payment.
        """
        for _ in range(_MAX_CREATE_ATTEMPTS):
            existing = await self._store.fetch_one(
                "SELECT fingerprint, payment_id FROM idempotency_keys"
                " WHERE client_id = $1 AND idempotency_key = $2",
                client_id,
                idempotency_key,
            )
            if existing is not None:
                if existing["fingerprint"] != request_fingerprint:
                    raise IdempotencyConflict("idempotency key reused with a different request")
                stored = await self.get(existing["payment_id"])
                if stored is None:  # the key's foreign key makes this impossible
                    raise PaymentNotFound(existing["payment_id"])
                return stored, True
            now = self._clock()
            payment = build(PaymentIdentity(new_payment_id(), new_reference(), now))
            self._check_new(payment, client_id, now)
            payment = self._with_payer_digest(payment)
            try:
                await self._insert_new(payment, client_id, idempotency_key, request_fingerprint)
            except _LostIdempotencyRace:
                continue
            _log.info(
                "payment.created",
                payment_id=payment.id,
                client_id=client_id,
                provider=payment.provider,
                amount=payment.amount,
            )
            return payment, False
        raise RuntimeError("idempotency key row neither insertable nor readable")

    @staticmethod
    def _check_new(payment: Payment, client_id: str, now: datetime) -> None:
        if payment.status is not PaymentStatus.CREATED or payment.version != 1:
            raise ValueError("a new payment starts as created, version 1")
        if payment.client_id != client_id:
            raise ValueError("the payment must belong to the client that created it")
        if payment.amount <= 0 or (payment.reference and len(payment.reference) > 20):
            raise ValueError("a payment needs a positive amount and a reference of ≤ 20 chars")
        if payment.created_at != now:
            raise ValueError("build must use the identity's created_at")

    def _with_payer_digest(self, payment: Payment) -> Payment:
        """The payment with its payer id's masked form and (given a key) keyed digest."""
        if payment.payer_id_number is None:
            return payment
        return dataclasses.replace(
            payment,
            payer_id_masked=payment.payer_id_masked or masked(payment.payer_id_number),
            payer_id_digest=payment.payer_id_digest
            or (self.payer_digest(payment.payer_id_number) if self.payer_digest else None),
        )

    async def _insert_new(
        self, payment: Payment, client_id: str, idempotency_key: str, fingerprint: str
    ) -> None:
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO payments (id, reference, client_id, provider, status, amount,"
                " currency, dossier_code, procedure_code, agency_code, fee_lines, payer_name,"
                " payer_id_number, payer_id_digest, payer_id_masked, return_url, pay_url,"
                " provider_txn_id, paid_amount, status_reason, created_at, updated_at,"
                " expires_at, version) VALUES"
                " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
                " $18, $19, $20, $21, $22, $23, $24)",
                payment.id,
                payment.reference,
                payment.client_id,
                payment.provider,
                str(payment.status),
                payment.amount,
                payment.currency,
                payment.dossier_code,
                payment.procedure_code,
                payment.agency_code,
                json.dumps(payment.fee_lines, ensure_ascii=False),
                payment.payer_name,
                payment.payer_id_number,
                payment.payer_id_digest,
                payment.payer_id_masked,
                payment.return_url,
                payment.pay_url,
                payment.provider_txn_id,
                payment.paid_amount,
                payment.status_reason,
                to_us(payment.created_at),
                to_us(payment.updated_at),
                to_us(payment.expires_at),
                payment.version,
            )
            inserted = await tx.execute(
                "INSERT INTO idempotency_keys (client_id, idempotency_key, fingerprint,"
                " payment_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                client_id,
                idempotency_key,
                fingerprint,
                payment.id,
                to_us(payment.created_at),
            )
            if inserted != 1:
                raise _LostIdempotencyRace

    # -- state changes ----------------------------------------------------------------------

    async def transition(
        self,
        payment_id: str,
        to: PaymentStatus,
        *,
        expected_from: Iterable[PaymentStatus] | None = None,
        provider_txn_id: str | None = None,
        paid_amount: int | None = None,
        pay_url: str | None = None,
        reason: str,
        security: SecurityRecord | None = None,
        source: str | None = None,
    ) -> TransitionResult:
        """Move the payment to ``to`` if it is in an allowed source state and ``expected_from``.

        One conditional UPDATE (with a version bump) and the outbox INSERT of the
        event it produces, in one transaction. A payment in any other state is
        left alone and ``applied`` is False. ``provider_txn_id``, ``paid_amount``
        and ``pay_url`` are recorded when given. ``reason`` is stored, logged and
        sent in the event: a short code (``callback``, ``expired``, or a
        :class:`ReviewReason` for needs_review), never personal data. ``security``
        is inserted into ``security_event_log`` in the same transaction and emitted
        after the commit (only if the transition applied). ``source`` (what
        reported it: ``callback``, ``status_poll``…) is only logged.
        """
        sources = sources_of(to)
        if expected_from is not None:
            sources = sources & frozenset(expected_from)
        ordered = sorted(sources)
        changed: Payment | None = None
        event_id: str | None = None
        if ordered:
            status_in = _in_list(8, len(ordered))
            update = (
                "UPDATE payments SET status = $1, version = version + 1, updated_at = $2,"  # noqa: S608 (placeholders)
                " provider_txn_id = COALESCE($3, provider_txn_id),"
                " paid_amount = COALESCE($4, paid_amount), pay_url = COALESCE($5, pay_url),"
                f" status_reason = $6 WHERE id = $7 AND status IN ({status_in}) RETURNING *"
            )
            async with self._store.transaction() as tx:
                row = await tx.fetch_one(
                    update,
                    str(to),
                    to_us(self._clock()),
                    provider_txn_id,
                    paid_amount,
                    pay_url,
                    reason,
                    payment_id,
                    *(str(s) for s in ordered),
                )
                if row is not None:
                    changed = payment_from_row(row)
                    event_id = await self.outbox.add(tx, changed, EVENT_TYPES[to])
                    if security is not None:
                        await self._store_security(tx, security)
        if changed is not None:
            _log.info(
                "payment.transition",
                payment_id=payment_id,
                payment_status=str(to),
                version=changed.version,
                reason=reason,
                source=source,
                event_id=event_id,
            )
            if security is not None:
                security_events.emit(security.kind, stored=True, **security.fields)
            return TransitionResult(applied=True, payment=changed, event_id=event_id)
        current = await self.get(payment_id)
        if current is None:
            raise PaymentNotFound(payment_id)
        _log.info(
            "payment.transition_skipped",
            payment_id=payment_id,
            payment_status=str(current.status),
            wanted=str(to),
            reason=reason,
        )
        return TransitionResult(applied=False, payment=current)

    async def _store_security(self, tx: Transaction, security: SecurityRecord) -> None:
        # Imported here: gateway.security imports the webhooks, which import this package.
        from gateway.security.recorder import insert_event

        await insert_event(
            tx, security.kind, security.fields, self.instance_id, to_us(self._clock())
        )

    async def apply_provider_result(
        self,
        reference: str,
        status: Reported,
        amount: int | None,
        provider_txn_id: str | None,
        *,
        reason: str = "provider_result",
        whole_dong: bool = True,
        known: Payment | None = None,
    ) -> TransitionResult:
        """Apply what a provider reported (callback, status poll, reconciliation).

        ``reason`` names the source (``callback``, ``status_poll``,
        ``reconciliation``…); it becomes the payment's ``status_reason`` except on
        a move to needs_review, whose reason is a :class:`ReviewReason`.

        - ``paid`` with the billed amount (``whole_dong``) moves an open payment to
          paid; with another amount to needs_review (``amount_mismatch``). On a
          failed, cancelled or expired payment it moves it to needs_review
          (``paid_after_<state>``, a ``late_payment`` security event), recording
          the paid amount and the provider's transaction id.
        - ``flagged`` (debited, flagged as suspicious) moves any payment but one
          already in review to needs_review; ``reversed`` and ``refunded`` move an
          open or paid one (the money went back from a payment not paid here:
          nothing to review).
        - ``pending`` only moves a created payment; ``failed``/``cancelled``/
          ``expired`` move an open one. After ``paid`` they change nothing and
          raise ``result_after_paid`` (provider and gateway disagree).

        Every move to needs_review writes its security event in its transaction.
        A duplicate, or a result that no longer applies, returns ``applied=False``.
        If another writer moves the payment between the read and the update, the
        payment is read again and the report judged against its new state.
        ``known``, the payment as the caller just read it, spares the first read (the
        update's version condition catches it if it is stale).

        The read, the decision, the conditional update, the outbox row and the
        security event are one unit (:meth:`Store.run_unit`): one hand-off to
        SQLite's writer thread, committed in a group with the units queued
        meanwhile; on PostgreSQL one statement for the whole transition.
        """
        if status is PaymentStatus.PAID and amount is None:
            raise ValueError("a paid result must carry the paid amount")
        if status in (PaymentStatus.CREATED, PaymentStatus.NEEDS_REVIEW):
            raise ValueError(f"a provider cannot report {status}")
        report = _Report(reference, status, amount, provider_txn_id, reason, whole_dong)
        outcome = await self._store.run_unit(self._apply_unit(report, known))
        for lost in outcome.lost:
            _log.info(
                "payment.transition_skipped",
                payment_id=outcome.payment.id,
                payment_status=str(outcome.payment.status),
                wanted=str(lost.target),
                reason=lost.reason,
            )
        payment = outcome.payment
        if outcome.move is None:
            self._note_unchanged(payment, status, provider_txn_id, reason)
            return TransitionResult(applied=False, payment=payment)
        if outcome.event_id is None:  # every attempt lost its race
            return TransitionResult(applied=False, payment=payment)
        _log.info(
            "payment.transition",
            payment_id=payment.id,
            payment_status=str(payment.status),
            version=payment.version,
            reason=outcome.move.reason,
            source=reason,
            event_id=outcome.event_id,
        )
        if outcome.security is not None:
            security_events.emit(outcome.security.kind, stored=True, **outcome.security.fields)
        return TransitionResult(applied=True, payment=payment, event_id=outcome.event_id)

    def _apply_unit(self, report: _Report, known: Payment | None) -> Unit[_Applied]:
        """Read, decide and move, as one unit of statements (no I/O of its own)."""
        payment = known if known is not None and known.reference == report.reference else None
        lost: list[_Move] = []
        move: _Move | None = None
        for _ in range(_MAX_APPLY_ATTEMPTS):
            if payment is None:
                payment = yield from _read_by_reference(report.reference)
            move = _move_for(
                payment,
                report.status,
                report.amount,
                whole_dong=report.whole_dong,
                source=report.reason,
            )
            if move is None:
                return _Applied(payment, lost)
            security = _security_for(payment, move, report)
            now = self._clock()
            changed = _after(payment, move, report.provider_txn_id, now)
            event_id, event = event_row(changed, EVENT_TYPES[move.target], now)
            moved = yield from self._write_move(payment, changed, event, security)
            if moved:
                return _Applied(changed, lost, move, event_id, security)
            lost.append(move)
            payment = None
        current = yield from _read_by_reference(report.reference)
        return _Applied(current, lost, move)

    def _write_move(
        self,
        before: Payment,
        after: Payment,
        event: tuple[Any, ...],
        security: SecurityRecord | None,
    ) -> Unit[bool]:
        """The conditional update, its outbox row and its security event; whether it moved.

        The update's condition is the status and version read, so ``after`` is exactly
        the row it writes. PostgreSQL takes the three writes as one statement.
        """
        # Imported here: gateway.security imports the webhooks, which import this package.
        from gateway.security.recorder import INSERT_EVENT as INSERT_SECURITY_EVENT
        from gateway.security.recorder import event_row as security_row

        update = (
            after.status.value,
            after.version,
            to_us(after.updated_at),
            after.provider_txn_id,
            after.paid_amount,
            after.status_reason,
            before.id,
            before.status.value,
            before.version,
        )
        sec: tuple[Any, ...] | None = None
        if security is not None:
            sec = security_row(security.kind, security.fields, self.instance_id, update[2])
        if self._store.dialect.writable_ctes:
            sql = _MOVE_CTE + (_MOVE_CTE_SECURITY if sec is not None else "") + _MOVE_CTE_END
            # The event's id, client, type, body; the security row but its time (= $3).
            params = (*update, event[0], event[3], event[4], event[5], *(sec[1:] if sec else ()))
            row = yield Statement(sql, params, Returns.ONE, standalone=True)
            return row is not None and int(row["moved"]) == 1
        changed = yield Statement(_MOVE, update)
        if changed != 1:
            return False
        yield Statement(INSERT_EVENT, event)
        if sec is not None:
            yield Statement(INSERT_SECURITY_EVENT, sec)
        return True

    @staticmethod
    def _note_unchanged(
        current: Payment, status: Reported, provider_txn_id: str | None, source: str
    ) -> None:
        """A result that changed nothing: harmless if a duplicate, else said so."""
        if current.status is PaymentStatus.PAID and status in _UNPAID_RESULTS:
            security_events.emit(
                SecurityEventKind.RESULT_AFTER_PAID,
                payment_id=current.id,
                reference=current.reference,
                reported=str(status),
                provider_txn_id=provider_txn_id,
                source=source,
            )
            return
        if status is not PaymentStatus.PAID:
            return
        duplicate = current.status is PaymentStatus.PAID and (
            provider_txn_id is None or provider_txn_id == current.provider_txn_id
        )
        if duplicate:
            return
        _log.warning(
            "payment.paid_result_ignored",
            payment_id=current.id,
            payment_status=str(current.status),
            final=current.status in FINAL,
            provider_txn_id=provider_txn_id,
        )

    # -- reads ------------------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment | None:
        """A payment by its id."""
        row = await self._store.fetch_one("SELECT * FROM payments WHERE id = $1", payment_id)
        return payment_from_row(row) if row else None

    async def get_by_reference(self, reference: str) -> Payment | None:
        """A payment by the reference its provider knows."""
        row = await self._store.fetch_one("SELECT * FROM payments WHERE reference = $1", reference)
        return payment_from_row(row) if row else None

    async def list_pending(self, older_than: datetime, limit: int = 100) -> list[Payment]:
        """Pending payments untouched since ``older_than``, stalest first (for status polling)."""
        rows = await self._store.fetch_all(
            "SELECT * FROM payments WHERE status = 'pending' AND updated_at <= $1"
            " ORDER BY updated_at, id LIMIT $2",
            to_us(older_than),
            limit,
        )
        return [payment_from_row(r) for r in rows]

    async def list_expired(self, now: datetime | None = None, limit: int = 100) -> list[Payment]:
        """Open (created or pending) payments whose ``expires_at`` has passed."""
        rows = await self._store.fetch_all(
            "SELECT * FROM payments WHERE status IN ('created', 'pending') AND expires_at <= $1"
            " ORDER BY expires_at, id LIMIT $2",
            to_us(now or self._clock()),
            limit,
        )
        return [payment_from_row(r) for r in rows]

    async def list_by_day(
        self, day: date, *, tz: timezone = VIETNAM_TZ, page_size: int = 500
    ) -> AsyncIterator[Payment]:
        """Every payment created on ``day`` (local to ``tz``), oldest first, read page by page."""
        start = to_us(datetime.combine(day, time.min, tzinfo=tz))
        end = to_us(datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz))
        after: tuple[int, str] = (start - 1, "")
        while True:
            # The index range starts at the previous page's end ("created_at >= $1"):
            # without it PostgreSQL rescans from the start of the day on every page.
            rows = await self._store.fetch_all(
                "SELECT * FROM payments WHERE created_at >= $1 AND created_at < $2"
                " AND (created_at > $1 OR (created_at = $1 AND id > $3))"
                " ORDER BY created_at, id LIMIT $4",
                after[0],
                end,
                after[1],
                page_size,
            )
            for row in rows:
                yield payment_from_row(row)
            if len(rows) < page_size:
                return
            after = (int(rows[-1]["created_at"]), str(rows[-1]["id"]))


_UNPAID_RESULTS = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED})


def _move_for(
    payment: Payment, status: Reported, amount: int | None, *, whole_dong: bool, source: str
) -> _Move | None:
    """What ``status`` (with ``amount``) does to ``payment`` as it is now; None: nothing."""
    current = payment.status
    if current is PaymentStatus.NEEDS_REVIEW:
        return None  # people decide; no provider report leaves review
    review = PaymentStatus.NEEDS_REVIEW
    if status is PaymentStatus.PAID:
        if current in _OPEN:
            if whole_dong and amount == payment.amount:
                return _Move(PaymentStatus.PAID, source, paid_amount=amount)
            mismatch = ReviewReason.AMOUNT_MISMATCH
            return _Move(review, mismatch, amount, REVIEW_SECURITY_EVENTS[mismatch])
        late = PAID_AFTER.get(current)
        if late is not None:
            return _Move(review, late, amount, REVIEW_SECURITY_EVENTS[late])
        return None  # paid already
    if isinstance(status, DisputedMoney):
        why = DISPUTE_REASONS[status]
        flagged = status is DisputedMoney.FLAGGED
        if current in _OPEN or current is PaymentStatus.PAID or flagged:
            return _Move(review, why, amount if flagged else None, REVIEW_SECURITY_EVENTS[why])
        return None  # reversed or refunded, and not paid here: nothing is owed
    if status is PaymentStatus.PENDING:
        return _Move(status, source) if current is PaymentStatus.CREATED else None
    if status in _UNPAID_RESULTS and current in _OPEN:
        return _Move(status, source)
    return None


__all__ = [
    "REVIEW_SECURITY_EVENTS",
    "IdempotencyConflict",
    "PaymentLedger",
    "PaymentNotFound",
    "Reported",
    "SecurityRecord",
    "TransitionResult",
    "payment_from_row",
]
