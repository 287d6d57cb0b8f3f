"""Posting alerts to the operators' webhook, signed as Standard Webhooks.

The monitor hands alerts over synchronously (:meth:`AlertWebhookSender.enqueue`);
one task posts them, each with ``webhook-id`` = the alert id, retrying a
failed delivery ``attempts`` times with a doubling pause (injected sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math

import aiohttp
import structlog
from prometheus_client import Counter

from adapters.aliases import Sleep
from adapters.backoff import backoff_ceiling
from gateway.security.config import AlertWebhookConfig
from gateway.security.detectors import SecurityAlert
from gateway.store import Clock, utc_now
from gateway.webhook_signatures import signed_headers

_log = structlog.get_logger("security.alerts")

ALERT_DELIVERIES = Counter(
    "lienthong_security_alert_deliveries_total", "Alert webhook deliveries by outcome", ["outcome"]
)


def alert_body(alert: SecurityAlert) -> bytes:
    """The JSON body posted for one alert."""
    return json.dumps(
        {"type": "security.alert", "data": alert.to_json()}, sort_keys=True, default=str
    ).encode()


class AlertWebhookSender:
    """Delivers alerts to the configured webhook from a background task."""

    def __init__(
        self,
        config: AlertWebhookConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        max_queue: int = 1000,
    ) -> None:
        self.config = config
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._queue: asyncio.Queue[SecurityAlert | None] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None

    def enqueue(self, alert: SecurityAlert) -> None:
        """Alert sink: queue the alert (dropped, and logged, when the queue is full)."""
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            ALERT_DELIVERIES.labels("dropped").inc()
            _log.warning("security.alert_webhook_dropped", alert_id=alert.id)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._send_forever(), name="alert-webhook")

    async def stop(self) -> None:
        """Deliver what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _send_forever(self) -> None:
        while (alert := await self._queue.get()) is not None:
            await self.deliver(alert)

    async def deliver(self, alert: SecurityAlert) -> bool:
        """Post one alert, retrying; True once a 2xx answered."""
        body = alert_body(alert)
        for attempt in range(1, self.config.attempts + 1):
            headers = signed_headers(
                [self.config.secret.get_secret_value()],
                alert.id,
                int(self._clock().timestamp()),
                body,
            )
            headers["Content-Type"] = "application/json"
            error = await self._post(body, headers)
            if error is None:
                ALERT_DELIVERIES.labels("delivered").inc()
                return True
            _log.warning(
                "security.alert_webhook_failed", alert_id=alert.id, attempt=attempt, error=error
            )
            if attempt < self.config.attempts:
                await self._sleep(backoff_ceiling(1.0, math.inf, attempt))
        ALERT_DELIVERIES.labels("failed").inc()
        return False

    async def _post(self, body: bytes, headers: dict[str, str]) -> str | None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            async with self._session.post(
                self.config.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                resp.release()
                return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__
