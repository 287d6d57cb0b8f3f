"""Shared nonces: concurrent checks go to the database together, each answered right."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import Store, StoreConfig, StoreError
from gateway.store.nonces import NonceBatcher, NonceItem, NonceKey
from tests.store.conftest import POSTGRES_DSN_ENV
from tests.support.clock import FakeClock


async def test_concurrent_checks_share_round_trips() -> None:
    """200 checks arriving together reach the database in a few batches, not 200, each
    key once per batch; a key's first check is answered by the database, repeats refused."""
    batches: list[list[NonceItem]] = []
    seen: set[NonceKey] = {("one-stop", "old")}

    async def flush(items: Sequence[NonceItem], now_us: int) -> set[NonceKey]:
        batches.append(list(items))
        await asyncio.sleep(0)  # a round trip
        fresh = {(c, n) for c, n, _ in items} - seen
        seen.update(fresh)
        return fresh

    batcher = NonceBatcher(lambda: datetime(2026, 3, 1, tzinfo=UTC), flush, max_batch=64)
    keys = [("one-stop", f"n{i % 150}") for i in range(200)] + [("one-stop", "old")]
    answers = await asyncio.gather(*(batcher.remember(c, n, 1) for c, n in keys))
    assert len(batches) <= 4
    assert all(len({(c, n) for c, n, _ in b}) == len(b) for b in batches)
    assert answers[:150] == [True] * 150
    assert answers[150:] == [False] * 51


async def test_a_failed_batch_fails_each_of_its_checks() -> None:
    """When the database fails, every check of the batch raises; the next batch runs."""
    calls = 0

    async def flush(items: Sequence[NonceItem], now_us: int) -> set[NonceKey]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreError("the database went away")
        return {(c, n) for c, n, _ in items}

    batcher = NonceBatcher(lambda: datetime(2026, 3, 1, tzinfo=UTC), flush)
    failed = await asyncio.gather(
        *(batcher.remember("one-stop", f"n{i}", 1) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(f, StoreError) for f in failed)
    assert await batcher.remember("one-stop", "n0", 1) is True


async def test_concurrent_checks_on_the_store(store: Store, clock: FakeClock) -> None:
    """On each backend: 60 checks at once, 20 keys three times each, give 20 acceptances;
    a key already stored is refused, and an expired row is taken over."""
    expires = clock() + timedelta(minutes=5)
    assert await store.remember("one-stop", "stored", expires)
    assert await store.remember("one-stop", "expired", clock() + timedelta(seconds=1))
    clock.advance(2)
    keys = [f"k{i % 20}" for i in range(60)] + ["stored", "expired"]
    answers = await asyncio.gather(*(store.remember("one-stop", k, expires) for k in keys))
    assert sum(answers[:60]) == 20
    assert answers[60:] == [False, True]
    rows = await store.fetch_all("SELECT count(*) AS n FROM nonces")
    assert rows[0]["n"] == 22


@pytest.mark.postgres
async def test_a_lost_nonce_connection_is_one_error_then_reconnects(
    store: Store, store_config: StoreConfig, clock: FakeClock
) -> None:
    """PostgreSQL: when the nonce connection is cut, the next check raises StoreError (503,
    never an unchecked nonce) or finds it closed and reconnects; the one after always works."""
    if store_config.dialect != "postgres":
        pytest.skip("the dedicated nonce connection is PostgreSQL's")
    expires = clock() + timedelta(minutes=5)
    assert await store.remember("one-stop", "before", expires)
    pid = store._nonce_conn.get_server_pid()  # type: ignore[attr-defined]
    admin = await asyncpg.connect(os.environ[POSTGRES_DSN_ENV])
    try:  # only this store's nonce connection: other suites may share the server
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    try:  # depending on when the server's goodbye arrives: an error, or a new connection
        during: bool | StoreError = await store.remember("one-stop", "during", expires)
    except StoreError as exc:
        during = exc
    assert during is True or isinstance(during, StoreError)
    assert await store.remember("one-stop", "after", expires)
    assert not await store.remember("one-stop", "before", expires)
