"""Lost callbacks and expiry: a worker that asks the provider about payments left open.

Each round (every ``interval_seconds``):

- payments ``pending`` without news for ``pending_age_seconds`` are queried; a
  payment whose query changed nothing waits ``backoff_initial_seconds`` before
  the next query, doubling up to ``backoff_max_seconds``;
- payments open (``created``/``pending``) past ``expires_at`` get a last query:
  a final answer from the provider (paid, failed, cancelled; or flagged,
  reversed, refunded, which go to ``needs_review``) wins, otherwise the payment
  becomes ``expired``. If the last query keeps failing, the payment expires
  anyway ``expiry_query_grace_seconds`` after its expiry (reason
  ``expired_unverified``; reconciliation has the last word, and a "paid" it
  finds then moves the payment to ``needs_review``, ``paid_after_expired``).

Every answer goes through :meth:`PaymentService.refresh` and the ledger, so a
payment that another writer moved to a final state while the query was under
way is judged in its new state (a "paid" then goes to ``needs_review``).

The backoff schedule lives in memory: after a restart every stale payment is
queried once more, which is harmless. Several instances may poll the same
payment; the ledger's conditional update makes that harmless too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from adapters.aliases import Sleep
from adapters.backoff import backoff_ceiling
from adapters.errors import AdapterError
from gateway.payments.config import PaymentPollingConfig
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentStatus
from gateway.payments.service import OPEN, PaymentService
from gateway.security import events as security_events

_log = structlog.get_logger("payments.poller")


@dataclass
class _Backoff:
    attempts: int
    next_query_at: dt.datetime


@dataclass(frozen=True)
class RoundReport:
    """What one round did (for tests and logs)."""

    queried: int = 0
    changed: int = 0
    expired: int = 0
    failed_queries: int = 0


class PendingPaymentPoller:
    """Queries providers for stale open payments and expires the overdue ones."""

    def __init__(
        self,
        service: PaymentService,
        ledger: PaymentLedger,
        policy: PaymentPollingConfig,
        *,
        clock: Callable[[], dt.datetime],
        sleep: Sleep = asyncio.sleep,
        after_round: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._service = service
        self._ledger = ledger
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._after_round = after_round
        self._backoff: dict[str, _Backoff] = {}

    def _due(self, payment: Payment, now: dt.datetime) -> bool:
        state = self._backoff.get(payment.id)
        return state is None or state.next_query_at <= now

    def _back_off(self, payment: Payment, now: dt.datetime) -> None:
        state = self._backoff.get(payment.id)
        attempts = state.attempts + 1 if state else 1
        delay = backoff_ceiling(
            self.policy.backoff_initial_seconds, self.policy.backoff_max_seconds, attempts
        )
        self._backoff[payment.id] = _Backoff(attempts, now + dt.timedelta(seconds=delay))

    async def run_once(self) -> RoundReport:
        """One round: expiries first (they are overdue), then stale pending payments."""
        now = self._clock()
        queried = changed = expired = failed = 0
        overdue = await self._ledger.list_expired(now, limit=self.policy.batch_size)
        for payment in overdue:
            if not self._due(payment, now):
                continue
            outcome = await self._expire(payment, now)
            queried += outcome != "skipped"
            expired += outcome == "expired"
            changed += outcome in ("expired", "settled")
            failed += outcome == "query_failed"
        stale_since = now - dt.timedelta(seconds=self.policy.pending_age_seconds)
        stale = await self._ledger.list_pending(stale_since, limit=self.policy.batch_size * 4)
        budget = self.policy.batch_size
        for payment in stale:
            if budget <= 0:
                break
            if payment.expires_at <= now or not self._due(payment, now):
                continue
            budget -= 1
            queried += 1
            try:
                after = await self._service.refresh(payment, reason="status_poll")
            except AdapterError as exc:
                security_events.report_adapter_error(exc)
                failed += 1
                self._back_off(payment, now)
                _log.info("payment.poll_failed", payment_id=payment.id, error=exc.detail)
                continue
            if after.status in OPEN:
                self._back_off(payment, now)
            else:
                changed += 1
                self._backoff.pop(payment.id, None)
        self._forget_closed({p.id for p in overdue} | {p.id for p in stale})
        return RoundReport(queried, changed, expired, failed)

    async def _expire(self, payment: Payment, now: dt.datetime) -> str:
        """The last query, then ``expired`` unless the provider had a final answer."""
        try:
            after = await self._service.refresh(payment, reason="expiry_check")
        except AdapterError as exc:
            security_events.report_adapter_error(exc)
            grace = payment.expires_at + dt.timedelta(
                seconds=self.policy.expiry_query_grace_seconds
            )
            if now < grace:
                self._back_off(payment, now)
                _log.info("payment.expiry_query_failed", payment_id=payment.id, error=exc.detail)
                return "query_failed"
            reason = "expired_unverified"
        else:
            if after.status not in OPEN:
                self._backoff.pop(payment.id, None)
                return "settled"
            reason = "expired"
        result = await self._ledger.transition(
            payment.id, PaymentStatus.EXPIRED, expected_from=OPEN, reason=reason
        )
        self._backoff.pop(payment.id, None)
        return "expired" if result.applied else "settled"

    def _forget_closed(self, still_open: set[str]) -> None:
        """Drop backoff entries of payments no longer listed (settled elsewhere)."""
        for payment_id in list(self._backoff):
            if payment_id not in still_open:
                del self._backoff[payment_id]

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Rounds every ``interval`` until ``stop`` is set; a failed round is logged, not fatal."""
        while not stop.is_set():
            try:
                report = await self.run_once()
                if report.queried:
                    _log.info(
                        "payment.poll_round",
                        queried=report.queried,
                        changed=report.changed,
                        expired=report.expired,
                        failed_queries=report.failed_queries,
                    )
                if self._after_round is not None:
                    await self._after_round()
            except Exception:  # the worker outlives a failed round; it is logged
                _log.exception("payment.poll_round_failed")
            await _wait(self._sleep(self.policy.interval_seconds), stop)


async def _wait(sleeping: Awaitable[None], stop: asyncio.Event) -> None:
    """Sleep until ``sleeping`` ends or ``stop`` is set, whichever comes first."""
    waits = {asyncio.ensure_future(sleeping), asyncio.ensure_future(stop.wait())}
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
