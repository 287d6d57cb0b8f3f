"""A timeout names the configured limit that ran out, not the time that happened to be left."""

from __future__ import annotations

import asyncio
import random

import pytest

from adapters.errors import UpstreamConnectionError, UpstreamTimeout
from adapters.resilience import UpstreamGuard, UpstreamResilience
from tests.adapters.test_resilience_support import FakeTime

OPERATION = "lookup"


def _guard(fake: FakeTime, per_try: float, deadline: float) -> UpstreamGuard:
    config = UpstreamResilience.model_validate(
        {
            "breaker": {"min_calls": 1000},
            "retry_budget": {"ratio": 1, "min_retries_per_second": 10},
            "operations": {
                OPERATION: {
                    "safe_to_retry": True,
                    "max_attempts": 3,
                    "per_try_timeout_seconds": per_try,
                    "deadline_seconds": deadline,
                    "backoff_initial_seconds": 0.1,
                    "backoff_max_seconds": 0.1,
                }
            },
        }
    )
    return UpstreamGuard(
        "population", config, clock=fake.clock, sleep=fake.sleep, rng=random.Random(1)
    )


def _attempts(fake: FakeTime, spend_first: float) -> object:
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:  # fails after a while: the second try gets what is left
            fake.advance(spend_first)
            raise UpstreamConnectionError("refused")
        await asyncio.Event().wait()
        return "never"

    return attempt


async def test_the_deadline_is_reported_as_configured() -> None:
    """Deadline 0.3 s; the retry had 0.15 s left when it timed out: "deadline of 0.3s"."""
    fake = FakeTime()
    guard = _guard(fake, per_try=60, deadline=0.3)
    async with asyncio.timeout(5):
        with pytest.raises(UpstreamTimeout) as timed_out:
            await guard.call(OPERATION, _attempts(fake, 0.05))  # type: ignore[arg-type]
    assert timed_out.value.detail == "deadline of 0.3s exceeded"


async def test_the_per_try_timeout_is_reported_as_configured() -> None:
    """A per-try timeout shorter than what is left is reported as that timeout."""
    fake = FakeTime()
    guard = _guard(fake, per_try=0.05, deadline=60)
    async with asyncio.timeout(5):
        with pytest.raises(UpstreamTimeout) as timed_out:
            await guard.call(OPERATION, _attempts(fake, 1))  # type: ignore[arg-type]
    assert timed_out.value.detail == "per-try timeout of 0.05s exceeded"
