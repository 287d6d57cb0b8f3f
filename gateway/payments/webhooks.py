"""Webhooks to the clients: the outbox dispatcher (signatures: :mod:`gateway.webhook_signatures`).

:class:`OutboxDispatcher` drains the outbox (see :mod:`gateway.payments.outbox`):
it leases due events, posts each to its client's webhook URL, records a 2xx as
delivered, otherwise schedules the next attempt with exponential backoff and
full jitter, and dead-letters the event once its retry window (3 days by
default) is over; a dead event does not hold back its payment's later events.
Event ids are the ``webhook-id``: a retry or an operator's replay sends the
same id, so receivers dedupe by it. Each attempt also carries a W3C
``traceparent``: the event's trace (derived from its id, the same for every
attempt) with a new span id (:func:`gateway.tracing.webhook_headers`).
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import structlog
from prometheus_client import Counter

from adapters.aliases import Sleep
from adapters.backoff import full_jitter
from gateway.auth.config import WebhookTarget
from gateway.payments.config import WebhookDispatchConfig
from gateway.payments.outbox import Outbox, OutboxEvent, OutboxStatus
from gateway.store import Clock, Store
from gateway.tracing import webhook_headers
from gateway.webhook_signatures import signed_headers

_log = structlog.get_logger("webhooks")

WEBHOOK_DELIVERIES = Counter(
    "lienthong_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, retry, dead)",
    ["outcome"],
)

#: Where a client's events go, looked up per event (None: the client has no webhook).
TargetLookup = Callable[[str], WebhookTarget | None]
#: Told of each delivery attempt: the event, "delivered" or "failed", the HTTP status if any.
AttemptObserver = Callable[[OutboxEvent, str, int | None], Awaitable[None]]


class OutboxDispatcher:
    """Delivers outbox events to the clients' webhook URLs, in order per payment."""

    def __init__(
        self,
        store: Store,
        targets: TargetLookup,
        session: aiohttp.ClientSession,
        *,
        config: WebhookDispatchConfig | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        instance_id: str | None = None,
        on_attempt: AttemptObserver | None = None,
    ) -> None:
        self.config = config or WebhookDispatchConfig()
        self._on_attempt = on_attempt
        self._clock = clock or store.clock
        self.outbox = Outbox(store, self._clock)
        self._targets = targets
        self._session = session
        self._sleep = sleep
        self._rng = rng
        self.instance_id = instance_id or "dispatcher-" + secrets.token_hex(6)

    async def run_once(self) -> int:
        """Claim one batch of due events and attempt each; how many were attempted."""
        events = await self.outbox.claim_due(
            self.instance_id, timedelta(seconds=self.config.lease_seconds), self.config.batch_size
        )
        if events:
            await asyncio.gather(*(self._attempt(e) for e in events))
        return len(events)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Drain the outbox until ``stop`` is set; idle ``poll_interval`` when nothing is due."""
        while not stop.is_set():
            try:
                attempted = await self.run_once()
            except Exception:  # the worker outlives a failed round; it is logged
                _log.exception("webhook.dispatch_round_failed")
                attempted = 0
            if attempted == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = {
            asyncio.ensure_future(self._sleep(self.config.poll_interval_seconds)),
            asyncio.ensure_future(stop.wait()),
        }
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _attempt(self, event: OutboxEvent) -> None:
        target = self._targets(event.client_id)
        if target is None:
            await self.outbox.dead_letter(
                event.id, self.instance_id, "no webhook target configured"
            )
            WEBHOOK_DELIVERIES.labels("dead").inc()
            _log.warning("webhook.no_target", event_id=event.id, client_id=event.client_id)
            return
        error, status = await self._post(event, target)
        if self._on_attempt is not None:
            try:
                await self._on_attempt(event, "delivered" if error is None else "failed", status)
            except Exception:  # an observer (the audit log) must not stop delivery
                _log.exception("webhook.observer_failed", event_id=event.id)
        if error is None:
            await self.outbox.mark_delivered(event.id, self.instance_id)
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            _log.info(
                "webhook.delivered",
                event_id=event.id,
                payment_id=event.payment_id,
                type=event.type,
                attempt=event.attempts + 1,
            )
            return
        await self._after_failure(event, error)

    async def _post(
        self, event: OutboxEvent, target: WebhookTarget
    ) -> tuple[str | None, int | None]:
        """One delivery attempt: (None on a 2xx, else a short reason (no URL, no body); status)."""
        body = event.body.encode()
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(
            [s.get_secret_value() for s in target.secrets], event.id, timestamp, body
        )
        headers["Content-Type"] = "application/json"
        headers.update(webhook_headers(event.id))  # W3C traceparent: the event's trace
        timeout = aiohttp.ClientTimeout(total=self.config.attempt_timeout_seconds)
        try:
            async with self._session.post(
                target.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                resp.release()
                ok = 200 <= resp.status < 300
                return (None if ok else f"HTTP {resp.status}"), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__, None

    def backoff(self, attempts_before: int) -> timedelta:
        """Full-jitter exponential backoff: uniform in [0, min(max, initial × 2^attempts))."""
        wait = full_jitter(
            self.config.backoff_initial_seconds,
            self.config.backoff_max_seconds,
            attempts_before + 1,
            self._rng,
        )
        return timedelta(seconds=wait)

    async def _after_failure(self, event: OutboxEvent, error: str) -> None:
        now = self._clock()
        deadline = event.retry_window_start + timedelta(seconds=self.config.max_age_seconds)
        if now >= deadline:
            await self.outbox.dead_letter(event.id, self.instance_id, error)
            WEBHOOK_DELIVERIES.labels("dead").inc()
            _log.warning(
                "webhook.dead_lettered",
                event_id=event.id,
                payment_id=event.payment_id,
                attempts=event.attempts + 1,
                error=error,
            )
            return
        next_attempt = min(now + self.backoff(event.attempts), deadline)
        await self.outbox.schedule_retry(event.id, self.instance_id, next_attempt, error)
        WEBHOOK_DELIVERIES.labels("retry").inc()
        _log.info(
            "webhook.retry_scheduled",
            event_id=event.id,
            payment_id=event.payment_id,
            attempts=event.attempts + 1,
            delay_ms=round((next_attempt - now).total_seconds() * 1000, 3),
            error=error,
        )

    # -- operators (``lienthong outbox list|retry|replay``) ----------------------------------

    async def list_events(
        self, status: OutboxStatus | None = None, *, limit: int = 100
    ) -> list[OutboxEvent]:
        """Events by status, oldest first."""
        return await self.outbox.list_events(status, limit=limit)

    async def retry(self, event_id: str) -> bool:
        """A dead event back in line now; False unless it was dead."""
        return await self.outbox.retry(event_id)

    async def replay(self, event_id: str) -> bool:
        """Send a delivered event again with the same webhook-id; False unless delivered."""
        return await self.outbox.replay(event_id)
