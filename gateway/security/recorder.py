"""Keeping security events and alerts in the store, for ``lienthong security report``.

Recording is off the request path: :meth:`SecurityRecorder.on_event` and
:meth:`~SecurityRecorder.on_alert` only append to a bounded in-memory buffer;
a background task writes the buffer every ``persist_interval_seconds`` in one
transaction, and :meth:`~SecurityRecorder.stop` writes what is left. A crash
loses at most one interval of these events (they are in the logs all the same);
a flood beyond the buffer drops the oldest and counts them.

An event that belongs to a state change (a payment moved to ``needs_review``:
``amount_mismatch``, ``late_payment``, the provider's flagged, reversed and
refunded ones) is not buffered: the change's own transaction inserts its row
with :func:`insert_event` (a crash keeps both or neither), and the recorder,
subscribed with ``stored_too=False``, never writes it a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from prometheus_client import Counter

from adapters.aliases import Sleep
from gateway.logging import (
    SECRET_KEYS,
    mask_field,
)
from gateway.security import events as security_events
from gateway.security.detectors import SecurityAlert
from gateway.security.events import SecurityEventKind
from gateway.store import Clock, Store, Transaction, to_us

_log = structlog.get_logger("security.recorder")

SECURITY_RECORDS_DROPPED = Counter(
    "lienthong_security_records_dropped_total", "Security events not stored (buffer full)"
)


def sanitise_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Event fields fit for storage: secrets dropped, the rest masked as log lines are."""
    return {
        key: mask_field(key, value)
        for key, value in fields.items()
        if key.lower() not in SECRET_KEYS
    }


def event_row(
    kind: str, fields: Mapping[str, Any], instance_id: str, time_us: int
) -> tuple[Any, ...]:
    """The ``security_event_log`` row of one event (fields sanitised, client and remote apart)."""
    detail = sanitise_fields({k: v for k, v in fields.items() if k not in ("client_id",)})
    remote = detail.pop("remote", None)
    client_id = fields.get("client_id")
    return (
        time_us,
        instance_id,
        str(kind),
        None if client_id is None else str(client_id),
        None if remote is None else str(remote),
        json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
    )


INSERT_EVENT = (
    "INSERT INTO security_event_log (time_us, instance, kind, client_id, remote, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)


async def insert_event(
    tx: Transaction, kind: str, fields: Mapping[str, Any], instance_id: str, time_us: int
) -> None:
    """Insert one event's row inside ``tx`` (the transaction of the change it belongs to)."""
    await tx.execute(INSERT_EVENT, *event_row(kind, fields, instance_id, time_us))


class SecurityRecorder:
    """Buffers events and alerts and writes them to the store in batches."""

    def __init__(
        self,
        store: Store,
        instance_id: str,
        *,
        interval_seconds: float = 2.0,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        max_buffer: int = 10_000,
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self._interval = interval_seconds
        self._clock = clock or store.clock
        self._sleep = sleep
        self._events: deque[tuple[Any, ...]] = deque(maxlen=max_buffer)
        self._alerts: deque[tuple[Any, ...]] = deque(maxlen=max_buffer)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def on_event(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Listener for the security event stream (alerts are recorded by :meth:`on_alert`)."""
        if kind == SecurityEventKind.ALERT:
            return
        if len(self._events) == self._events.maxlen:
            SECURITY_RECORDS_DROPPED.inc()
        self._events.append(event_row(kind, fields, self.instance_id, to_us(self._clock())))

    def on_alert(self, alert: SecurityAlert) -> None:
        """Alert sink for :class:`~gateway.security.detectors.SecurityMonitor`."""
        self._alerts.append(
            (
                alert.id,
                to_us(alert.time),
                self.instance_id,
                alert.detector,
                alert.subject,
                json.dumps(sanitise_fields(alert.detail), sort_keys=True, default=str),
            )
        )

    async def start(self) -> None:
        """Subscribe to the stream and start the periodic writer (tables: migration 0101)."""
        self._unsubscribe = security_events.subscribe(self.on_event, stored_too=False)
        self._task = asyncio.create_task(self._write_forever(), name="security-recorder")

    async def stop(self) -> None:
        """Unsubscribe, stop the writer and write what is buffered."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _write_forever(self) -> None:
        while True:
            await self._sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # next round retries with a fresh buffer; this one is logged
                _log.exception("security.record_failed")

    async def flush(self) -> int:
        """Write everything buffered in one transaction; how many rows."""
        events = [self._events.popleft() for _ in range(len(self._events))]
        alerts = [self._alerts.popleft() for _ in range(len(self._alerts))]
        if not events and not alerts:
            return 0
        async with self.store.transaction() as tx:
            for row in events:
                await tx.execute(INSERT_EVENT, *row)
            for row in alerts:
                await tx.execute(
                    "INSERT INTO security_alerts (id, time_us, instance, detector, subject, detail)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                    *row,
                )
        return len(events) + len(alerts)
