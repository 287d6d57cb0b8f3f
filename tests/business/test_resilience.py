"""The business client under the real UpstreamGuard: retries, timeouts, breaker, 401 storm."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from adapters.errors import CircuitOpen, UpstreamAuthError, UpstreamFault, UpstreamTimeout
from adapters.resilience import (
    BreakerConfig,
    OperationPolicy,
    QuotaConfig,
    UpstreamGuard,
    UpstreamResilience,
)
from tests.business.conftest import Sandbox, make_client

CODE = "1801234562"


async def no_sleep(seconds: float) -> None:
    """Backoff without waiting (the test pins counts, not durations)."""


def guard(**overrides: float | bool) -> UpstreamGuard:
    policy: dict[str, float | bool] = {
        "safe_to_retry": True,
        "max_attempts": 3,
        "per_try_timeout_seconds": 5.0,
        "deadline_seconds": 10.0,
    }
    policy.update(overrides)
    config = UpstreamResilience(
        quota=QuotaConfig(rate_per_second=10_000, burst=10_000),
        breaker=BreakerConfig(min_calls=4, failure_rate=0.5, open_seconds=30),
        operations={"chiTietDoanhNghiep": OperationPolicy.model_validate(policy)},
    )
    return UpstreamGuard("business", config, sleep=no_sleep)


async def test_server_errors_are_retried_within_max_attempts(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A lookup failing with 503 is tried max_attempts times, then the fault surfaces."""
    await ngsp.misbehave(session, error_rate=1.0)
    client, _ = make_client(ngsp, session, guard=guard())
    with pytest.raises(UpstreamFault):
        await client.get(CODE)
    assert (await ngsp.stats(session))["lookups"] == 3


async def test_401_storm_under_the_guard_is_not_retried(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """UpstreamAuthError is not retryable: a 401 storm stays at one refresh and two tries a call."""
    await ngsp.misbehave(session, reject_all_tokens=True)
    client, _ = make_client(ngsp, session, guard=guard())
    outcomes = await asyncio.gather(*(client.get(CODE) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(o, UpstreamAuthError) for o in outcomes)
    stats = await ngsp.stats(session)
    assert stats["token_requests"] == 2
    assert stats["lookups"] <= 40


async def test_slow_peer_hits_the_per_try_timeout(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """The guard's per-try timeout cuts a slow lookup: UpstreamTimeout, not a hang."""
    await ngsp.misbehave(session, latency_seconds=30)
    client, _ = make_client(
        ngsp,
        session,
        guard=guard(per_try_timeout_seconds=0.1, deadline_seconds=0.5, max_attempts=2),
    )
    with pytest.raises(UpstreamTimeout):
        await client.get(CODE)


async def test_breaker_opens_and_stops_calling_the_peer(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """After repeated failures the breaker opens: 503 CircuitOpen, the peer sees no new lookup."""
    await ngsp.misbehave(session, error_rate=1.0)
    client, _ = make_client(ngsp, session, guard=guard(max_attempts=1))
    for _ in range(4):
        with pytest.raises(UpstreamFault):
            await client.get(CODE)
    before = (await ngsp.stats(session))["lookups"]
    with pytest.raises(CircuitOpen) as caught:
        await client.get(CODE)
    assert caught.value.status == 503
    assert (await ngsp.stats(session))["lookups"] == before
