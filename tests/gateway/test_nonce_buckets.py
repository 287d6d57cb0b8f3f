"""The in-memory nonce store holds digests in expiry buckets: 3,000 signed requests a
second over the 300 s window fit under the default bound, replays are refused whatever
bucket they land in, buckets leave whole, and beyond the bound it is still 503."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from gateway.auth.middleware import authentication_middleware, authorization_middleware
from gateway.auth.nonces import (
    InMemoryNonceStore,
    NonceStore,
    NonceStoreFull,
    NonceStoreUnavailable,
)
from gateway.config import load_settings
from tests.gateway.test_auth_middleware import (
    BODY,
    NOW,
    call,
    demo_registry,
    echo,
    problem_type,
    problems_to_responses,
    serving,
    signed,
)
from tests.support.clock import FakeClock

RATE = 3_000
WINDOW = 300


@pytest.mark.slow
def test_three_thousand_a_second_over_the_window_fit_under_the_default_bound() -> None:
    """900,000 live nonces (3,000/s for 300 s) are all accepted under the default bound;
    a second later the first second's nonces have left and the count stays flat."""
    max_nonces = load_settings(None, environment="test").server.max_nonces
    clock = FakeClock(NOW)
    store = InMemoryNonceStore(max_entries=max_nonces, clock=clock.time)
    for second in range(WINDOW + 1):
        clock.set(NOW + second)
        for i in range(RATE):
            # created = now, so each nonce expires one window later, as a gateway files it.
            assert store.remember_now("motcua-demo", f"{second}.{i}", clock.time() + WINDOW)
        if second == WINDOW - 1:
            assert len(store) == RATE * WINDOW
    assert len(store) == RATE * WINDOW  # second 0's nonces expired at NOW + 300, whole
    assert not store.remember_now("motcua-demo", "1.0", NOW + 1 + WINDOW)  # still live


async def test_a_replay_is_refused_in_any_bucket_until_the_first_use_expires() -> None:
    """A nonce's repeat is refused while the clock crosses bucket ends, and also when its
    expiry (another ``created``) files it in another bucket; after expiry it is new again."""
    clock = FakeClock(100.0)
    store = InMemoryNonceStore(clock=clock.time, bucket_seconds=10.0)
    assert await store.remember("motcua-demo", "n1", 400.0)
    assert await store.remember("motcua-demo", "n2", 150.0)
    for now in (100.0, 149.0, 150.0, 250.0, 399.0):
        clock.set(now)
        assert not await store.remember("motcua-demo", "n1", 400.0)
        assert not await store.remember("motcua-demo", "n1", now + 300.0)  # another bucket
    assert len(store) == 1  # n2's bucket ended at 150 and left
    clock.set(400.0)
    assert await store.remember("motcua-demo", "n1", 700.0)


async def test_expired_buckets_leave_whole() -> None:
    """Nonces whose expiries share a bucket are held until the bucket ends, then all go."""
    clock = FakeClock(100.0)
    store = InMemoryNonceStore(clock=clock.time, bucket_seconds=10.0)
    for i in range(10):
        assert await store.remember("portal-demo", f"a{i}", 101.0 + i)  # bucket ending 110
    assert await store.remember("portal-demo", "b", 111.0)  # the next bucket
    clock.set(109.5)  # nine of the ten have expired, but their bucket has not ended
    assert await store.remember("portal-demo", "probe-1", 400.0)
    assert len(store) == 12
    clock.set(110.0)
    assert await store.remember("portal-demo", "probe-2", 400.0)
    assert len(store) == 3  # b and the probes: the bucket of a0..a9 left whole
    assert await store.remember("portal-demo", "a0", 410.0)  # and a0 may be used again


def _echo_app(nonces: NonceStore, clock: FakeClock) -> web.Application:
    app = web.Application(
        middlewares=[
            problems_to_responses,
            authentication_middleware(demo_registry(), nonces, window=300.0, clock=clock.time),
            authorization_middleware(),
        ]
    )
    app.router.add_post("/v1/echo", echo, name="test.echo")
    return app


class _BrokenSharedStore:
    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        raise NonceStoreUnavailable("nonce check failed: ConnectionDoesNotExistError")


async def test_a_shared_store_that_fails_answers_503() -> None:
    """When the database behind shared nonces fails, a signed request gets 503, not 500."""
    clock = FakeClock(NOW)
    async with (
        serving(_echo_app(_BrokenSharedStore(), clock)) as base_url,
        aiohttp.ClientSession() as session,
    ):
        url = base_url + "/v1/echo"
        status, headers, body = await call(
            session, "POST", url, data=BODY, headers=signed("POST", url, BODY)
        )
    assert (status, problem_type(body)) == (503, "unavailable")
    assert int(headers["Retry-After"]) >= 1


async def test_a_full_store_answers_503_with_a_security_event() -> None:
    """Beyond ``max_entries`` a signed request gets 503 and a nonce_store_full event."""
    clock = FakeClock(NOW)
    app = _echo_app(InMemoryNonceStore(max_entries=2, clock=clock.time), clock)
    async with serving(app) as base_url, aiohttp.ClientSession() as session:
        url = base_url + "/v1/echo"
        statuses = []
        with capture_logs() as events:
            for _ in range(3):
                answer = await call(
                    session, "POST", url, data=BODY, headers=signed("POST", url, BODY)
                )
                statuses.append(answer)
    assert [s for s, _, _ in statuses] == [200, 200, 503]
    _, headers, body = statuses[-1]
    assert problem_type(body) == "unavailable"
    assert int(headers["Retry-After"]) >= 1
    assert [e["event"] for e in events if e["event"].startswith("security.")] == [
        "security.nonce_store_full"
    ]


def test_the_bound_raises_rather_than_forgets() -> None:
    """At the bound a fresh nonce raises NonceStoreFull; the held ones are still refused."""
    store = InMemoryNonceStore(max_entries=2, clock=lambda: 0.0)
    assert store.remember_now("c1", "a", 10.0)
    assert store.remember_now("c1", "b", 10.0)
    with pytest.raises(NonceStoreFull):
        store.remember_now("c1", "c", 10.0)
    assert not store.remember_now("c1", "a", 10.0)
