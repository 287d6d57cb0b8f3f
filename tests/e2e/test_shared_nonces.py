"""``nonce_store = "store"`` across gateways: a replay refused by another instance on
PostgreSQL, and expired nonce rows purged in the background with no request arriving."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.store import StoreConfig, open_store, utc_now
from tests.e2e.test_inbound_security import one_nonce_across_instances
from tests.support.gateway import Gateway, start_listeners

POSTGRES_DSN_ENV = "LIENTHONG_TEST_POSTGRES_DSN"
#: How long the purge may take to come round on a loaded machine (a bound, not a timing).
PURGE_PATIENCE_SECONDS = 60.0


@pytest.fixture
async def postgres_store() -> AsyncIterator[dict[str, Any]]:
    """A ``[store]`` section on a fresh PostgreSQL schema (dropped afterwards)."""
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(f"PostgreSQL test skipped: set {POSTGRES_DSN_ENV} to run it")
    schema = "t_" + secrets.token_hex(8)
    yield {"url": dsn, "schema_name": schema}
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def shared(gateway: Gateway, store: dict[str, Any] | None = None, **server: Any) -> Settings:
    """The test gateway's settings with shared nonces (and another store, if given)."""
    settings = gateway.settings
    update: dict[str, Any] = {
        "server": settings.server.model_copy(update={"nonce_store": "store", **server})
    }
    if store is not None:
        update["store"] = settings.store.model_copy(update=store)
    return settings.model_copy(update=update)


@pytest.mark.postgres
async def test_a_replay_is_refused_by_another_instance_on_postgres(
    gateway: Gateway, postgres_store: dict[str, Any]
) -> None:
    """Two gateways on one PostgreSQL store: a signed request accepted by the first is
    refused as a replay by the second (same nonce, same created, each signed for its port)."""
    settings = shared(gateway, postgres_store)
    answers = await one_nonce_across_instances(gateway, settings, [0, 1, 0])
    assert answers[0][0] == 200
    assert [status for status, _ in answers[1:]] == [401, 401]
    assert all(kind.endswith("/replayed-request") for _, kind in answers[1:])


async def test_expired_nonces_are_purged_without_a_request(gateway: Gateway) -> None:
    """A gateway with shared nonces deletes expired rows on its own, keeping live ones."""
    assert await _purged_in_the_background(shared(gateway, nonce_purge_interval_seconds=0.05))


@pytest.mark.postgres
async def test_expired_nonces_are_purged_without_a_request_on_postgres(
    gateway: Gateway, postgres_store: dict[str, Any]
) -> None:
    """The same on PostgreSQL."""
    settings = shared(gateway, postgres_store, nonce_purge_interval_seconds=0.05)
    assert await _purged_in_the_background(settings)


async def _purged_in_the_background(settings: Settings) -> bool:
    """Start a gateway, store expired nonces and a live one beside it, and wait (boundedly)
    for only the live one to be left, with no request sent."""
    config = StoreConfig(url=settings.store.url, schema_name=settings.store.schema_name)
    async with AsyncExitStack() as stack:
        await start_listeners(stack, settings)
        other = await open_store(config)  # another instance's view of the same database
        stack.push_async_callback(other.close)
        now = utc_now()
        for i in range(5):
            assert await other.remember("motcua-demo", f"old-{i}", now - timedelta(seconds=1))
        assert await other.remember("motcua-demo", "live", now + timedelta(minutes=5))
        for _ in range(int(PURGE_PATIENCE_SECONDS / 0.05)):
            left = sorted(r["nonce"] for r in await other.fetch_all("SELECT nonce FROM nonces"))
            if left == ["live"]:
                return True
            await asyncio.sleep(0.05)
    return False
