"""UpstreamGuard: quota → breaker → bulkhead → attempts, with deadlines and safe retries."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from adapters.errors import (
    BulkheadFull,
    CircuitOpen,
    QuotaExhausted,
    UpstreamConnectionError,
    UpstreamFault,
    UpstreamTimeout,
)
from adapters.guard import CallGuard
from adapters.resilience import BreakerState, UpstreamGuard, UpstreamResilience, last_attempts
from tests.adapters.test_resilience_support import FakeTime

LOOKUP = "TraCuuThongTinCongDan"  # safe to retry
PAY = "CreatePayment"  # not safe to retry


def _config(**sections: Any) -> UpstreamResilience:
    base: dict[str, Any] = {
        "breaker": {"min_calls": 1000, "window_seconds": 60, "open_seconds": 30},
        "bulkhead": {"max_concurrent": 10, "max_wait_seconds": 1},
        "quota": {"rate_per_second": 1000, "burst": 1000},
        "retry_budget": {"ratio": 1, "min_retries_per_second": 10},
        "operations": {
            LOOKUP: {
                "safe_to_retry": True,
                "max_attempts": 4,
                "per_try_timeout_seconds": 1,
                "deadline_seconds": 30,
                "backoff_initial_seconds": 0.1,
                "backoff_max_seconds": 1,
            },
            PAY: {"safe_to_retry": False, "max_attempts": 4, "deadline_seconds": 30},
        },
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(name), dict):
            base[name] = {**base[name], **value}
        else:
            base[name] = value
    return UpstreamResilience.model_validate(base)


class _Highest(random.Random):
    """A random source that always picks the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _guard(
    fake: FakeTime,
    upstream: str = "population",
    rng: random.Random | None = None,
    **sections: Any,
) -> UpstreamGuard:
    return UpstreamGuard(
        upstream,
        _config(**sections),
        clock=fake.clock,
        sleep=fake.sleep,
        rng=rng or random.Random(1),
    )


class Script:
    """An attempt that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_upstream_guard_satisfies_the_call_guard_protocol() -> None:
    """UpstreamGuard can be handed to adapters wherever a CallGuard is expected."""
    guard: CallGuard = _guard(FakeTime())
    assert guard is not None


async def test_success_passes_through_with_one_attempt() -> None:
    """A healthy call returns the attempt's value after exactly one attempt."""
    guard = _guard(FakeTime())
    attempt = Script()
    assert await guard.call(LOOKUP, attempt) == "ok"
    assert attempt.calls == 1
    assert last_attempts() == 1


async def test_safe_operation_retries_retryable_errors_with_capped_jitter() -> None:
    """A safe lookup retries connection errors and 5xx faults, sleeping within the jitter caps."""
    fake = FakeTime()
    guard = _guard(fake)
    attempt = Script(UpstreamConnectionError("refused"), UpstreamFault("5xx", code="500"))
    with capture_logs() as logs:
        assert await guard.call(LOOKUP, attempt) == "ok"
    retries = [e for e in logs if e["event"] == "upstream_retry"]
    assert [(e["operation"], e["error"]) for e in retries] == [
        (LOOKUP, "UpstreamConnectionError"),
        (LOOKUP, "UpstreamFault"),
    ]
    assert attempt.calls == 3
    assert last_attempts() == 3
    assert len(fake.sleeps) == 2
    assert 0 <= fake.sleeps[0] <= 0.1
    assert 0 <= fake.sleeps[1] <= 0.2


async def test_unsafe_operation_is_never_retried() -> None:
    """A payment creation fails after one attempt even with a retryable error."""
    fake = FakeTime()
    guard = _guard(fake)
    attempt = Script(UpstreamConnectionError("refused"))
    with pytest.raises(UpstreamConnectionError) as failed:
        await guard.call(PAY, attempt)
    assert attempt.calls == 1
    assert last_attempts() == 1
    assert fake.sleeps == []
    assert failed.value.upstream == "population"
    assert failed.value.operation == PAY


async def test_non_retryable_error_is_not_retried() -> None:
    """A client-side fault ends a safe operation at once."""
    guard = _guard(FakeTime())
    attempt = Script(UpstreamFault("bad request", code="Client", server_side=False))
    with pytest.raises(UpstreamFault):
        await guard.call(LOOKUP, attempt)
    assert attempt.calls == 1


async def test_attempts_stop_at_max_attempts() -> None:
    """A safe operation that keeps failing stops after max_attempts and raises the last error."""
    guard = _guard(FakeTime())
    errors = [UpstreamConnectionError(f"refused {n}") for n in range(10)]
    attempt = Script(*errors)
    with pytest.raises(UpstreamConnectionError) as failed:
        await guard.call(LOOKUP, attempt)
    assert attempt.calls == 4
    assert failed.value is errors[3]
    assert last_attempts() == 4


async def test_bug_in_the_adapter_propagates_unchanged_and_counts_as_failure() -> None:
    """A non-AdapterError is not retried, not wrapped, and trips the breaker."""
    guard = _guard(FakeTime(), breaker={"min_calls": 1, "failure_rate": 1})
    bug = KeyError("MaLoi")
    attempt = Script(bug)
    with pytest.raises(KeyError) as raised:
        await guard.call(LOOKUP, attempt)
    assert raised.value is bug
    assert attempt.calls == 1
    assert guard.state is BreakerState.OPEN


async def test_errors_that_are_not_failures_do_not_trip_the_breaker() -> None:
    """Client-side faults, however many, leave the breaker closed."""
    guard = _guard(FakeTime(), breaker={"min_calls": 3, "failure_rate": 0.5})
    for _ in range(10):
        with pytest.raises(UpstreamFault):
            await guard.call(PAY, Script(UpstreamFault("not found", server_side=False)))
    assert guard.state is BreakerState.CLOSED


async def test_open_breaker_answers_at_once_then_recovers_through_half_open() -> None:
    """Open: calls refused without reaching the upstream; after open_seconds a probe closes it."""
    fake = FakeTime()
    guard = _guard(
        fake,
        breaker={"min_calls": 2, "failure_rate": 1, "open_seconds": 30, "half_open_max_calls": 1},
    )
    for _ in range(2):
        with pytest.raises(UpstreamConnectionError):
            await guard.call(PAY, Script(UpstreamConnectionError("refused")))
    attempt = Script()
    fake.advance(5)
    tokens = guard.quota.available
    with pytest.raises(CircuitOpen) as refused:
        await guard.call(PAY, attempt)
    assert attempt.calls == 0
    assert guard.quota.available == pytest.approx(tokens)
    assert last_attempts() == 0
    assert refused.value.retry_after == pytest.approx(25)
    assert refused.value.operation == PAY
    fake.advance(25)
    assert await guard.call(PAY, attempt) == "ok"
    assert guard.state is BreakerState.CLOSED


async def test_each_retry_asks_the_breaker_again() -> None:
    """When the call's own failures open the breaker, the next retry is refused with CircuitOpen."""
    guard = _guard(FakeTime(), breaker={"min_calls": 2, "failure_rate": 1})
    attempt = Script(*(UpstreamConnectionError("refused") for _ in range(4)))
    with pytest.raises(CircuitOpen):
        await guard.call(LOOKUP, attempt)
    assert attempt.calls == 2
    assert last_attempts() == 2


async def test_spent_quota_refuses_with_time_to_next_token() -> None:
    """With the bucket empty the call is refused at once; retry_after is the time to a token."""
    fake = FakeTime()
    guard = _guard(fake, quota={"rate_per_second": 2, "burst": 2})
    attempt = Script()
    await guard.call(PAY, attempt)
    await guard.call(PAY, attempt)
    with pytest.raises(QuotaExhausted) as refused:
        await guard.call(PAY, attempt)
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.status == 503
    assert attempt.calls == 2
    fake.advance(0.5)
    assert await guard.call(PAY, attempt) == "ok"


async def test_each_retry_takes_a_quota_token() -> None:
    """Retries draw on the same quota, so a retrying call cannot exceed the national limit."""
    fake = FakeTime()
    guard = _guard(fake, quota={"rate_per_second": 0.001, "burst": 3})
    attempt = Script(*(UpstreamConnectionError("refused") for _ in range(4)))
    with pytest.raises(QuotaExhausted):
        await guard.call(LOOKUP, attempt)
    assert attempt.calls == 3


async def test_refused_call_gives_its_quota_token_back() -> None:
    """A call the breaker or bulkhead refuses does not use up the upstream's quota."""
    fake = FakeTime()
    guard = _guard(fake, bulkhead={"max_concurrent": 1, "max_wait_seconds": 0})
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "ok"

    holder = asyncio.create_task(guard.call(PAY, slow))
    await started.wait()
    tokens = guard.quota.available
    with pytest.raises(BulkheadFull):
        await guard.call(PAY, Script())
    assert guard.quota.available == pytest.approx(tokens)
    release.set()
    assert await holder == "ok"


async def test_retry_budget_stops_a_retry_storm() -> None:
    """With the upstream down, retries stay within ratio × calls instead of multiplying load."""
    fake = FakeTime()
    guard = _guard(fake, retry_budget={"ratio": 0.1, "min_retries_per_second": 0})
    attempts = 0

    async def down() -> str:
        nonlocal attempts
        attempts += 1
        raise UpstreamConnectionError("refused")

    for _ in range(100):
        with pytest.raises(UpstreamConnectionError):
            await guard.call(LOOKUP, down)
    assert attempts == 100 + 10


async def test_backoff_that_would_pass_the_deadline_is_not_taken() -> None:
    """If the next backoff does not fit in the deadline, the last error is raised instead."""
    fake = FakeTime()
    guard = _guard(
        fake,
        rng=_Highest(),
        operations={
            LOOKUP: {
                "safe_to_retry": True,
                "deadline_seconds": 1,
                "backoff_initial_seconds": 5,
                "backoff_max_seconds": 5,
            }
        },
    )
    attempt = Script(UpstreamConnectionError("refused"))
    with pytest.raises(UpstreamConnectionError):
        await guard.call(LOOKUP, attempt)
    assert attempt.calls == 1
    assert fake.sleeps == []


async def _hang() -> str:
    await asyncio.Event().wait()
    return "never"


async def test_per_try_timeout_becomes_upstream_timeout() -> None:
    """An attempt that outlives per_try_timeout is cut and reported as UpstreamTimeout (504)."""
    guard = _guard(
        FakeTime(),
        operations={PAY: {"per_try_timeout_seconds": 0.02, "deadline_seconds": 5}},
        breaker={"min_calls": 1, "failure_rate": 1},
    )
    async with asyncio.timeout(5):  # did not hang
        with pytest.raises(UpstreamTimeout) as timed_out:
            await guard.call(PAY, _hang)
    assert timed_out.value.status == 504
    assert timed_out.value.operation == PAY
    assert guard.state is BreakerState.OPEN


async def test_deadline_shortens_the_per_try_timeout() -> None:
    """An attempt gets only the time left before the deadline, even if per_try_timeout is longer."""
    guard = _guard(
        FakeTime(), operations={PAY: {"per_try_timeout_seconds": 60, "deadline_seconds": 0.05}}
    )
    async with asyncio.timeout(5):  # did not hang (a 60 s per-try timeout would)
        with pytest.raises(UpstreamTimeout) as timed_out:
            await guard.call(PAY, _hang)
    assert "deadline" in timed_out.value.detail


async def test_deadline_bounds_all_attempts() -> None:
    """A hanging upstream with retries to spare still ends in UpstreamTimeout at the deadline."""
    guard = UpstreamGuard(
        "population",
        _config(
            operations={
                LOOKUP: {
                    "safe_to_retry": True,
                    "max_attempts": 100,
                    "per_try_timeout_seconds": 0.03,
                    "deadline_seconds": 0.08,
                    "backoff_initial_seconds": 0.001,
                    "backoff_max_seconds": 0.001,
                }
            }
        ),
        clock=time.monotonic,
        sleep=FakeTime().sleep,
    )
    async with asyncio.timeout(5):  # did not hang
        with pytest.raises(UpstreamTimeout):
            await guard.call(LOOKUP, _hang)
    assert 2 <= last_attempts() <= 4


async def test_many_tasks_through_one_guard() -> None:
    """Two hundred concurrent calls respect the bulkhead and leave the guard's books balanced."""
    guard = _guard(FakeTime(), bulkhead={"max_concurrent": 5, "max_wait_seconds": 30})
    inside = peak = 0

    async def attempt() -> str:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        inside -= 1
        return "ok"

    async with asyncio.timeout(20):
        results = await asyncio.gather(*(guard.call(LOOKUP, attempt) for _ in range(200)))
    assert results == ["ok"] * 200
    assert peak == 5
    snapshot = guard.snapshot()
    assert snapshot["in_flight"] == 0
    assert snapshot["waiting"] == 0
    assert snapshot["quota_tokens"] == pytest.approx(800)


async def test_concurrent_failures_open_the_breaker_once() -> None:
    """A burst of concurrent failing calls opens the breaker once; later calls are refused."""
    upstream = "storm"
    guard = _guard(FakeTime(), upstream=upstream, breaker={"min_calls": 10, "failure_rate": 0.5})
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise UpstreamConnectionError("reset")

    async def one() -> BaseException | str:
        try:
            return await guard.call(PAY, failing)
        except (UpstreamConnectionError, CircuitOpen) as exc:
            return exc

    tasks = [asyncio.create_task(one()) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*tasks)
    assert all(isinstance(o, UpstreamConnectionError) for o in outcomes)
    assert guard.state is BreakerState.OPEN
    opened = REGISTRY.get_sample_value(
        "lienthong_upstream_breaker_transitions_total",
        {"upstream": upstream, "from_state": "closed", "to_state": "open"},
    )
    assert opened == 1
    with pytest.raises(CircuitOpen):
        await guard.call(PAY, failing)


async def test_cancelled_call_frees_its_slot_and_probe() -> None:
    """Cancelling a call in flight releases the bulkhead slot and the half-open probe."""
    fake = FakeTime()
    guard = _guard(
        fake,
        breaker={"min_calls": 1, "failure_rate": 1, "half_open_max_calls": 1, "open_seconds": 1},
    )
    with pytest.raises(UpstreamConnectionError):
        await guard.call(PAY, Script(UpstreamConnectionError("refused")))
    fake.advance(1)
    task = asyncio.create_task(guard.call(PAY, _hang))
    await asyncio.sleep(0.01)
    assert guard.bulkhead.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert guard.bulkhead.in_flight == 0
    assert guard.state is BreakerState.HALF_OPEN
    assert await guard.call(PAY, Script()) == "ok"
    assert guard.state is BreakerState.CLOSED


async def test_snapshot_reports_breaker_flight_and_quota() -> None:
    """snapshot() gives /readyz breaker state, calls in flight, quota tokens and retry budget."""
    guard = _guard(FakeTime())
    snapshot = guard.snapshot()
    assert snapshot["upstream"] == "population"
    assert snapshot["breaker"] == {
        "state": "closed",
        "retry_after": 0.0,
        "window_calls": 0,
        "window_failures": 0,
    }
    assert snapshot["in_flight"] == 0
    assert snapshot["quota_tokens"] == 1000
    assert isinstance(snapshot["retry_budget"], float)


async def test_refusal_from_a_nested_guard_says_nothing_about_this_upstream() -> None:
    """An UpstreamUnavailable raised inside the attempt is passed on, unretried and uncounted."""
    guard = _guard(FakeTime(), breaker={"min_calls": 1, "failure_rate": 1})
    nested = QuotaExhausted("token endpoint quota spent", retry_after=2, upstream="ngsp-token")
    attempt = Script(nested)
    with pytest.raises(QuotaExhausted) as refused:
        await guard.call(LOOKUP, attempt)
    assert refused.value is nested
    assert refused.value.upstream == "ngsp-token"
    assert attempt.calls == 1
    assert guard.state is BreakerState.CLOSED


async def test_deadline_spent_waiting_for_the_bulkhead_skips_the_attempt() -> None:
    """A call whose deadline passed while it queued gets UpstreamTimeout without calling out."""
    fake = FakeTime()
    guard = _guard(fake, bulkhead={"max_concurrent": 1, "max_wait_seconds": 5})
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "ok"

    async def late_call(attempt: Script) -> tuple[BaseException | str, int]:
        try:
            return await guard.call(PAY, attempt), last_attempts()
        except UpstreamTimeout as exc:
            return exc, last_attempts()

    holder = asyncio.create_task(guard.call(PAY, slow))
    await asyncio.sleep(0)
    attempt = Script()
    queued = asyncio.create_task(late_call(attempt))
    await asyncio.sleep(0)
    assert guard.bulkhead.waiting == 1
    fake.advance(31)
    release.set()
    async with asyncio.timeout(5):
        outcome, attempts = await queued
    assert isinstance(outcome, UpstreamTimeout)
    assert attempt.calls == 0
    assert attempts == 0
    assert await holder == "ok"
