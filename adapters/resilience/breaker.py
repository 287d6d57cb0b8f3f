"""The circuit breaker of one upstream: closed → open → half-open → closed.

* **closed**: calls go through; each outcome enters a sliding time window. Once
  the window holds ``min_calls`` calls and at least ``failure_rate`` of them
  failed, the breaker opens.
* **open**: every call is refused at once with :class:`CircuitOpen`, whose
  ``retry_after`` is the time left until half-open.
* **half-open**: after ``open_seconds``, up to ``half_open_max_calls`` probes go
  through (others are refused). When that many probes have succeeded the
  breaker closes with an empty window; the first failed probe opens it again.

Each admitted call holds a :class:`BreakerPermit` and reports its outcome with
:meth:`CircuitBreaker.record` (or gives the permit back with
:meth:`CircuitBreaker.release` when the call never reached the upstream).
A permit remembers the state period it was issued in, so the late outcome of a
call admitted before a transition never moves the breaker (a slow success from
before the breaker opened does not count as a probe).

The breaker never awaits, so on one event loop it is safe for any number of
concurrent tasks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog
from prometheus_client import Counter, Gauge

from adapters.config import BreakerConfig
from adapters.errors import CircuitOpen

log = structlog.get_logger(__name__)

BREAKER_STATE = Gauge(
    "lienthong_upstream_breaker_state",
    "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open",
    ["upstream"],
)
BREAKER_TRANSITIONS = Counter(
    "lienthong_upstream_breaker_transitions",
    "Circuit breaker state transitions per upstream",
    ["upstream", "from_state", "to_state"],
)

#: ``retry_after`` for a call refused while half-open probes are still out.
HALF_OPEN_RETRY_AFTER = 1.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def gauge_value(self) -> int:
        return _GAUGE_VALUES[self]


_GAUGE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerPermit:
    """Leave to make one call; ``period`` identifies the state period that issued it."""

    period: int
    probe: bool


class _Window:
    """Outcomes of the last ``seconds`` seconds, with running totals."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._outcomes: deque[tuple[float, bool]] = deque()
        self.calls = 0
        self.failures = 0

    def add(self, now: float, failed: bool) -> None:
        self._outcomes.append((now, failed))
        self.calls += 1
        self.failures += failed
        self.evict(now)

    def evict(self, now: float) -> None:
        horizon = now - self._seconds
        while self._outcomes and self._outcomes[0][0] <= horizon:
            _, failed = self._outcomes.popleft()
            self.calls -= 1
            self.failures -= failed

    def clear(self) -> None:
        self._outcomes.clear()
        self.calls = 0
        self.failures = 0


class CircuitBreaker:
    """The breaker of ``upstream``; ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(
        self,
        upstream: str,
        config: BreakerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.config = config
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._period = 0
        self._opened_at = 0.0
        self._window = _Window(config.window_seconds)
        self._probes_out = 0
        self._probes_ok = 0
        BREAKER_STATE.labels(upstream).set(BreakerState.CLOSED.gauge_value)

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose time is up reads as half-open)."""
        self._maybe_half_open()
        return self._state

    @property
    def retry_after(self) -> float:
        """Seconds until an open breaker lets probes through; 0.0 when not open."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.open_seconds - self._clock())

    def acquire(self, operation: str | None = None) -> BreakerPermit:
        """Leave for one call, or :class:`CircuitOpen` with the time to wait."""
        state = self.state
        if state is BreakerState.CLOSED:
            return BreakerPermit(self._period, probe=False)
        if state is BreakerState.HALF_OPEN and self._probes_out + self._probes_ok < (
            self.config.half_open_max_calls
        ):
            self._probes_out += 1
            return BreakerPermit(self._period, probe=True)
        retry_after = self.retry_after if state is BreakerState.OPEN else HALF_OPEN_RETRY_AFTER
        raise CircuitOpen(
            f"circuit open for upstream {self.upstream}",
            retry_after=retry_after,
            upstream=self.upstream,
            operation=operation,
        )

    def record(self, permit: BreakerPermit, *, failed: bool) -> None:
        """The outcome of a call made under ``permit``."""
        if permit.period != self._period:
            return  # admitted before the last transition: says nothing about now
        if permit.probe:
            self._probes_out -= 1
            if failed:
                self._open()
                return
            self._probes_ok += 1
            if self._probes_ok >= self.config.half_open_max_calls:
                self._transition(BreakerState.CLOSED)
            return
        now = self._clock()
        self._window.add(now, failed)
        if (
            failed
            and self._window.calls >= self.config.min_calls
            and self._window.failures >= self.config.failure_rate * self._window.calls
        ):
            self._open()

    def release(self, permit: BreakerPermit) -> None:
        """Give back a permit whose call never reached the upstream."""
        if permit.probe and permit.period == self._period:
            self._probes_out -= 1

    def snapshot(self) -> dict[str, object]:
        """State for /readyz and logs."""
        state = self.state
        self._window.evict(self._clock())
        return {
            "state": state.value,
            "retry_after": round(self.retry_after, 3),
            "window_calls": self._window.calls,
            "window_failures": self._window.failures,
        }

    def _maybe_half_open(self) -> None:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.open_seconds
        ):
            self._transition(BreakerState.HALF_OPEN)

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN)

    def _transition(self, to: BreakerState) -> None:
        before = self._state
        self._state = to
        self._period += 1
        self._probes_out = 0
        self._probes_ok = 0
        self._window.clear()
        BREAKER_STATE.labels(self.upstream).set(to.gauge_value)
        BREAKER_TRANSITIONS.labels(self.upstream, before.value, to.value).inc()
        emit = log.warning if to is BreakerState.OPEN else log.info
        emit(
            "upstream_breaker_transition",
            upstream=self.upstream,
            from_state=before.value,
            to_state=to.value,
        )
