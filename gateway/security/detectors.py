"""The detectors: thresholds over sliding windows that raise ``security.alert`` events.

:class:`SecurityMonitor` listens to the security event stream (authentication
failures by address and by client, bad callback checksums by provider) and
offers two hooks the gateway calls itself: :meth:`~SecurityMonitor.observe_verification`
(enumeration of personal ids by one client) and
:meth:`~SecurityMonitor.observe_request` (a client's volume far above its usual).
An alert fires when a count *reaches* its threshold; the same alert (detector
and subject) is not raised again within the cool-down. Each alert is a
``security.alert`` event, a ``lienthong_security_alerts_total{detector}``
increment, and goes to every registered alert sink (the store recorder, the
webhook sender). All hooks are synchronous and cheap: they run on the request path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from adapters.aliases import Monotonic, WallClock
from gateway.security import events as security_events
from gateway.security.config import SecurityConfig
from gateway.security.events import SecurityEventKind
from gateway.security.windows import RateBaseline, SlidingCount, VerificationWindow

SECURITY_ALERTS = Counter(
    "lienthong_security_alerts_total", "Security alerts raised, by detector", ["detector"]
)

#: Monotonic seconds (for windows and cool-downs).
#: Wall clock for the alert's timestamp.


@dataclass(frozen=True)
class SecurityAlert:
    """One raised alert."""

    id: str
    detector: str
    subject: str
    time: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detector": self.detector,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "detail": self.detail,
        }


AlertSink = Callable[[SecurityAlert], None]


class SecurityMonitor:
    """All detectors of one gateway instance."""

    def __init__(
        self,
        config: SecurityConfig,
        *,
        monotonic: Monotonic = time.monotonic,
        wall_clock: WallClock | None = None,
    ) -> None:
        self.config = config
        self._now = monotonic
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._sinks: list[AlertSink] = []
        self._last_alert: dict[tuple[str, str], float] = {}
        self._auth_by_address = SlidingCount(config.auth_failures.window_seconds)
        self._auth_by_client = SlidingCount(config.auth_failures.window_seconds)
        self._bad_callbacks = SlidingCount(config.bad_callbacks.window_seconds)
        self._verifications: dict[str, VerificationWindow] = {}
        self._volumes: dict[str, RateBaseline] = {}
        self._unsubscribe: Callable[[], None] | None = None

    # -- wiring -----------------------------------------------------------------------------

    def add_sink(self, sink: AlertSink) -> None:
        """Also hand every alert to ``sink`` (must be cheap: enqueue, not send)."""
        self._sinks.append(sink)

    def attach(self) -> None:
        """Listen to the security event stream (until :meth:`detach`)."""
        if self._unsubscribe is None:
            self._unsubscribe = security_events.subscribe(self.on_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- inputs -----------------------------------------------------------------------------

    def on_event(self, kind: str, fields: Mapping[str, Any]) -> None:
        """A security event (called by the stream)."""
        now = self._now()
        if kind in self.config.auth_failure_kinds:
            threshold = self.config.auth_failures.threshold
            remote = fields.get("remote")
            if remote:
                count = self._auth_by_address.add(str(remote), now)
                if count >= threshold:
                    self._raise("auth_failures_by_address", str(remote), now, failures=count)
            client_id = fields.get("client_id")
            if client_id:
                count = self._auth_by_client.add(str(client_id), now)
                if count >= threshold:
                    self._raise("auth_failures_by_client", str(client_id), now, failures=count)
        elif kind in self.config.bad_callback_kinds:
            provider = str(fields.get("provider") or "unknown")
            count = self._bad_callbacks.add(provider, now)
            if count >= self.config.bad_callbacks.threshold:
                self._raise("bad_callback_checksums", provider, now, callbacks=count)

    def observe_verification(self, client_id: str, id_digest: str, verdict: str) -> None:
        """One citizen verification by ``client_id`` of the id with keyed digest ``id_digest``."""
        cfg = self.config.enumeration
        window = self._verifications.get(client_id)
        if window is None:
            window = self._verifications[client_id] = VerificationWindow(cfg.window_seconds)
        now = self._now()
        distinct, rate = window.add(now, id_digest, verdict in cfg.mismatch_verdicts)
        if distinct >= cfg.min_distinct_ids and rate >= cfg.mismatch_rate:
            self._raise(
                "enumeration", client_id, now, distinct_ids=distinct, mismatch_rate=round(rate, 3)
            )

    def observe_request(self, client_id: str) -> None:
        """One request by ``client_id`` (for the volume detector)."""
        cfg = self.config.volume
        baseline = self._volumes.get(client_id)
        if baseline is None:
            baseline = self._volumes[client_id] = RateBaseline(
                cfg.window_seconds, cfg.baseline_seconds
            )
        now = self._now()
        current, usual = baseline.add(now)
        if current >= max(cfg.min_requests, cfg.factor * usual):
            self._raise(
                "volume",
                client_id,
                now,
                requests=current,
                usual=round(usual, 2),
                window_seconds=cfg.window_seconds,
            )

    # -- alerts -----------------------------------------------------------------------------

    def _raise(self, detector: str, subject: str, now: float, **detail: Any) -> None:
        key = (detector, subject)
        last = self._last_alert.get(key)
        if last is not None and now - last < self.config.cooldown_seconds:
            return
        self._last_alert[key] = now
        alert = SecurityAlert(uuid.uuid4().hex, detector, subject, self._wall(), detail)
        SECURITY_ALERTS.labels(detector).inc()
        security_events.emit(
            SecurityEventKind.ALERT, alert_id=alert.id, detector=detector, subject=subject, **detail
        )
        for sink in self._sinks:
            sink(alert)
