"""The circuit breaker: closed → open → half-open → closed, on an injected clock."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from adapters.errors import CircuitOpen
from adapters.resilience import BreakerConfig, BreakerState, CircuitBreaker
from tests.adapters.test_resilience_support import FakeTime


def _breaker(fake: FakeTime, upstream: str = "population", **overrides: float) -> CircuitBreaker:
    settings: dict[str, float] = {
        "window_seconds": 60,
        "min_calls": 4,
        "failure_rate": 0.5,
        "open_seconds": 30,
        "half_open_max_calls": 2,
    }
    settings.update(overrides)
    return CircuitBreaker(upstream, BreakerConfig.model_validate(settings), clock=fake.clock)


def _call(breaker: CircuitBreaker, *, failed: bool) -> None:
    breaker.record(breaker.acquire(), failed=failed)


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.min_calls):
        _call(breaker, failed=True)
    assert breaker.state is BreakerState.OPEN


def _gauge(upstream: str) -> float | None:
    return REGISTRY.get_sample_value("lienthong_upstream_breaker_state", {"upstream": upstream})


def test_failures_below_min_calls_do_not_open() -> None:
    """Three failures out of three stay closed when min_calls is four; the fourth opens."""
    fake = FakeTime()
    breaker = _breaker(fake)
    for _ in range(3):
        _call(breaker, failed=True)
    assert breaker.state is BreakerState.CLOSED
    _call(breaker, failed=True)
    assert breaker.state is BreakerState.OPEN


def test_opens_when_the_failure_rate_is_reached() -> None:
    """With min_calls met, the breaker opens exactly when failures reach the rate."""
    fake = FakeTime()
    breaker = _breaker(fake)
    for _ in range(3):
        _call(breaker, failed=False)
    _call(breaker, failed=True)  # 1 of 4
    _call(breaker, failed=True)  # 2 of 5
    assert breaker.state is BreakerState.CLOSED
    _call(breaker, failed=True)  # 3 of 6 = 0.5
    assert breaker.state is BreakerState.OPEN


def test_window_forgets_old_outcomes() -> None:
    """Failures older than the window no longer count toward the rate."""
    fake = FakeTime()
    breaker = _breaker(fake, window_seconds=10)
    for _ in range(3):
        _call(breaker, failed=True)
    fake.advance(11)
    _call(breaker, failed=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["window_calls"] == 1


def test_open_breaker_refuses_with_time_until_half_open() -> None:
    """An open breaker answers CircuitOpen at once, retry_after = time left of open_seconds."""
    fake = FakeTime()
    breaker = _breaker(fake)
    _open(breaker)
    fake.advance(10)
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire("TraCuuThongTinCongDan")
    assert refused.value.retry_after == pytest.approx(20)
    assert refused.value.upstream == "population"
    assert refused.value.operation == "TraCuuThongTinCongDan"
    assert refused.value.status == 503


def test_goes_half_open_after_open_seconds_and_limits_probes() -> None:
    """After open_seconds the breaker lets half_open_max_calls probes through, no more."""
    fake = FakeTime()
    breaker = _breaker(fake)
    _open(breaker)
    fake.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    first, second = breaker.acquire(), breaker.acquire()
    assert first.probe
    assert second.probe
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire()
    assert refused.value.retry_after > 0


def test_successful_probes_close_the_breaker() -> None:
    """When every probe succeeds the breaker closes with a fresh window."""
    fake = FakeTime()
    breaker = _breaker(fake)
    _open(breaker)
    fake.advance(30)
    probes = [breaker.acquire(), breaker.acquire()]
    breaker.record(probes[0], failed=False)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(probes[1], failed=False)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["window_calls"] == 0


def test_failed_probe_reopens_the_breaker() -> None:
    """One failed probe opens the breaker again for a full open_seconds."""
    fake = FakeTime()
    breaker = _breaker(fake)
    _open(breaker)
    fake.advance(30)
    breaker.record(breaker.acquire(), failed=True)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after == pytest.approx(30)


def test_released_probe_frees_its_place() -> None:
    """A probe that never reached the upstream gives its place back to another probe."""
    fake = FakeTime()
    breaker = _breaker(fake, half_open_max_calls=1)
    _open(breaker)
    fake.advance(30)
    breaker.release(breaker.acquire())
    assert breaker.acquire().probe


def test_late_outcome_from_before_a_transition_is_ignored() -> None:
    """A call admitted while closed that ends after the breaker opened does not act as a probe."""
    fake = FakeTime()
    breaker = _breaker(fake, half_open_max_calls=1)
    slow = breaker.acquire()
    _open(breaker)
    fake.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(slow, failed=False)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire().probe


def test_state_gauge_and_transitions_are_published_and_logged() -> None:
    """The gauge reads 0/2/1/0 through a cycle; each transition is counted and logged."""
    fake = FakeTime()
    upstream = "gauge-test"
    breaker = _breaker(fake, upstream=upstream, half_open_max_calls=1)
    assert _gauge(upstream) == 0
    with capture_logs() as logs:
        _open(breaker)
        assert _gauge(upstream) == 2
        fake.advance(30)
        assert breaker.state is BreakerState.HALF_OPEN
        assert _gauge(upstream) == 1
        _call(breaker, failed=False)
        assert _gauge(upstream) == 0
    transitions = [(e["from_state"], e["to_state"]) for e in logs]
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert all(e["event"] == "upstream_breaker_transition" for e in logs)
    opened = REGISTRY.get_sample_value(
        "lienthong_upstream_breaker_transitions_total",
        {"upstream": upstream, "from_state": "closed", "to_state": "open"},
    )
    assert opened == 1


def test_late_failure_from_an_earlier_closed_period_is_ignored() -> None:
    """A slow failure admitted before the breaker opened does not count once it has closed again."""
    fake = FakeTime()
    breaker = _breaker(fake, min_calls=1, failure_rate=1, half_open_max_calls=1)
    slow = breaker.acquire()
    _open(breaker)
    fake.advance(30)
    _call(breaker, failed=False)
    assert breaker.state is BreakerState.CLOSED
    breaker.record(slow, failed=True)
    assert breaker.state is BreakerState.CLOSED
