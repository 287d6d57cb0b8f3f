"""The in-memory nonce store reports how full it is, so an alert fires before 503s begin."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from gateway.auth.nonces import InMemoryNonceStore, NonceStoreFull
from tests.support.clock import FakeClock


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def test_gauges_follow_held_nonces_and_capacity() -> None:
    """Entries rise with each new nonce, stay at capacity when full, fall when nonces expire."""
    clock = FakeClock(1000.0)
    store = InMemoryNonceStore(max_entries=3, clock=clock.time)
    assert _gauge("lienthong_nonce_store_capacity") == 3
    assert _gauge("lienthong_nonce_store_entries") == 0
    for i in range(3):
        assert await store.remember("motcua-demo", f"n{i}", expires_at=1300.0)
    assert _gauge("lienthong_nonce_store_entries") == 3
    assert not await store.remember("motcua-demo", "n0", expires_at=1300.0)  # a replay
    with pytest.raises(NonceStoreFull):
        await store.remember("motcua-demo", "n3", expires_at=1300.0)
    assert _gauge("lienthong_nonce_store_entries") == 3
    clock.set(1300.0)  # the window has passed: every nonce expired
    assert await store.remember("motcua-demo", "n4", expires_at=1600.0)
    assert _gauge("lienthong_nonce_store_entries") == 1
