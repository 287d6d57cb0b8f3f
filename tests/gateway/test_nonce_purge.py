"""The background nonce purge outlives a failing round (a unit test of its cleanup_ctx)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.appkeys import SETTINGS, STORE
from gateway.auth.nonces import nonce_purge_ctx
from gateway.config import load_settings


class _FlakyStore:
    """Fails its first purge the way a pooled connection does (no StoreError), then purges."""

    def __init__(self) -> None:
        self.rounds = 0
        self.done = asyncio.Event()

    async def purge_expired_nonces(self) -> int:
        self.rounds += 1
        if self.rounds == 1:
            raise ConnectionResetError("the pooled connection was reset")  # not a StoreError
        self.done.set()
        return 3


async def test_a_failed_purge_round_is_followed_by_the_next() -> None:
    """A purge that fails is logged and the next round still runs; stopping ends the task."""
    app = web.Application()
    app[SETTINGS] = load_settings(
        None,
        environment="test",
        server={"nonce_store": "store", "nonce_purge_interval_seconds": 0.01},
    )
    store = _FlakyStore()
    app[STORE] = store  # type: ignore[assignment]
    ctx = nonce_purge_ctx(app)
    await ctx.__anext__()
    try:
        await asyncio.wait_for(store.done.wait(), timeout=60)
    finally:
        await ctx.aclose()
    assert store.rounds >= 2
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "nonce-purge"]
