"""Retry strategies: full-jitter backoff and the tenacity controller."""

from __future__ import annotations

import random

import pytest

from adapters.errors import UpstreamConnectionError
from adapters.resilience import (
    FullJitterBackoff,
    OperationPolicy,
    RetryBudget,
    RetryBudgetConfig,
    build_retrying,
)
from tests.adapters.test_resilience_support import FakeTime


class _Highest(random.Random):
    """A random source that always picks the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_cap_doubles_from_initial_and_stops_at_maximum() -> None:
    """The jitter cap is initial × 2^(n-1), never above backoff_max."""
    backoff = FullJitterBackoff(0.1, 1.0)
    assert [backoff.cap(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff.cap(10_000) == 1.0


def test_full_jitter_stays_within_zero_and_cap() -> None:
    """Every wait drawn lies in [0, cap], and the draws spread over that range."""
    backoff = FullJitterBackoff(0.1, 1.0, random.Random(7))
    for attempt in range(1, 8):
        cap = backoff.cap(attempt)
        waits = [_wait(backoff, attempt) for _ in range(500)]
        assert all(0.0 <= w <= cap for w in waits)
        assert min(waits) < cap * 0.1
        assert max(waits) > cap * 0.9


def _wait(backoff: FullJitterBackoff, attempt: int) -> float:
    class _State:
        attempt_number = attempt

    return backoff(_State())  # type: ignore[arg-type]


async def test_controller_sleeps_the_injected_jitter_between_attempts() -> None:
    """The controller retries a retryable error and sleeps what the injected RNG draws."""
    fake = FakeTime()
    policy = OperationPolicy(
        safe_to_retry=True, max_attempts=4, backoff_initial=0.5, backoff_max=1.5, deadline=60
    )
    budget = RetryBudget(RetryBudgetConfig(), clock=fake.clock)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise UpstreamConnectionError("refused")
        return "ok"

    retrying = build_retrying(
        policy,
        deadline_at=fake.now + policy.deadline,
        clock=fake.clock,
        sleep=fake.sleep,
        budget=budget,
        rng=_Highest(),
    )
    assert await retrying(flaky) == "ok"
    assert fake.sleeps == [0.5, 1.0, 1.5]
