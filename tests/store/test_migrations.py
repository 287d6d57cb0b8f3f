"""Schema migrations, health and nonces on both backends."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.store import Store, StoreConfig, StoreError, open_store
from gateway.store.schema import load_migrations, split_statements
from tests.store.conftest import OpenStore
from tests.support.clock import FakeClock


async def test_open_applies_every_migration_once(open_stores: OpenStore, clock: FakeClock) -> None:
    """Opening a new database applies all migrations; reopening applies nothing again."""
    first = await open_stores()
    applied = await first.fetch_all("SELECT version, name, applied_at FROM schema_migrations")
    expected = [m.version for m in load_migrations(first.dialect.name)]
    assert expected[:3] == [1, 2, 3]  # payments, outbox, nonces; later features add more
    assert [r["version"] for r in sorted(applied, key=lambda r: r["version"])] == expected
    clock.advance(60)
    second = await open_stores()
    again = await second.fetch_all("SELECT version, name, applied_at FROM schema_migrations")
    assert sorted(again, key=lambda r: r["version"]) == sorted(applied, key=lambda r: r["version"])


async def test_concurrent_openers_apply_each_migration_once(open_stores: OpenStore) -> None:
    """Four instances starting together leave exactly one row per migration and a usable schema."""
    stores = await asyncio.gather(*(open_stores() for _ in range(4)))
    rows = await stores[0].fetch_all("SELECT version FROM schema_migrations")
    assert sorted(r["version"] for r in rows) == [m.version for m in load_migrations("sqlite")]
    assert await stores[3].fetch_all("SELECT id FROM payments") == []


async def test_sqlite_open_waits_for_a_write_lock_held_elsewhere(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Opening a file whose write lock another connection holds waits for it (within
    busy_timeout) instead of failing at once with "database is locked" on the switch to WAL."""
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE held (x INTEGER)")
        holder.execute("BEGIN IMMEDIATE")
        config = StoreConfig(url=f"sqlite:///{path}", busy_timeout_s=30)
        opening = asyncio.ensure_future(open_store(config, clock=clock))
        for _ in range(50):  # let the opener meet the lock (without waiting it fails here)
            if opening.done():
                break
            await asyncio.sleep(0.01)
        holder.execute("COMMIT")
    finally:
        holder.close()
    store = await opening
    try:
        assert await store.fetch_all("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    finally:
        await store.close()


async def test_ping_answers_while_open(store: Store) -> None:
    """ping() succeeds on an open store."""
    await store.ping()


async def test_ping_fails_after_close(store_config: StoreConfig, clock: FakeClock) -> None:
    """ping() raises StoreError once the store's connections are gone."""
    store = await open_store(store_config, clock=clock)
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()


async def test_nonce_is_accepted_once_per_client(store: Store, clock: FakeClock) -> None:
    """A nonce is new the first time only, per client; after expiry it may be used again."""
    expires = clock() + timedelta(minutes=5)
    assert await store.remember("one-stop", "n-1", expires) is True
    assert await store.remember("one-stop", "n-1", expires) is False
    assert await store.remember("portal", "n-1", expires) is True
    clock.advance(timedelta(minutes=5))
    assert await store.remember("one-stop", "n-1", clock() + timedelta(minutes=5)) is True


async def test_nonce_seen_by_another_instance(open_stores: OpenStore, clock: FakeClock) -> None:
    """A nonce remembered by one instance is refused by another sharing the database."""
    one, two = await open_stores(), await open_stores()
    results = await asyncio.gather(
        *(s.remember("one-stop", "shared", clock() + timedelta(minutes=1)) for s in [one, two] * 5)
    )
    assert sorted(results) == [False] * 9 + [True]


async def test_purge_removes_only_expired_nonces(store: Store, clock: FakeClock) -> None:
    """purge_expired_nonces deletes rows past expiry and keeps live ones."""
    await store.remember("one-stop", "old", clock() + timedelta(seconds=10))
    await store.remember("one-stop", "live", clock() + timedelta(minutes=10))
    clock.advance(30)
    assert await store.purge_expired_nonces() == 1
    rows = await store.fetch_all("SELECT nonce FROM nonces")
    assert [r["nonce"] for r in rows] == ["live"]


def test_split_statements_keeps_statements_whole() -> None:
    """The migration splitter yields whole statements and drops comments."""
    script = "-- a comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a (x);\n"
    assert split_statements(script) == (
        "CREATE TABLE a (x TEXT DEFAULT ';')",
        "CREATE INDEX i ON a (x)",
    )


def test_store_url_scheme_decides_backend() -> None:
    """The URL scheme picks the dialect; an unknown scheme is refused."""
    assert StoreConfig(url="sqlite:///var/x.db").dialect == "sqlite"
    assert StoreConfig(url="postgresql://postgres@127.0.0.1:5432/test").dialect == "postgres"
    with pytest.raises(ValueError, match="unsupported"):
        _ = StoreConfig(url="mysql://127.0.0.1/x").dialect


def test_migration_files_gaps_and_dialect_overrides(tmp_path: Path) -> None:
    """Versions may leave gaps; a NNNN_name.<dialect>.sql file replaces the portable one."""
    (tmp_path / "0001_base.sql").write_text("CREATE TABLE a (x TEXT);\n")
    (tmp_path / "0100_audit.sql").write_text("CREATE TABLE b (x TEXT);\n")
    (tmp_path / "0100_audit.postgres.sql").write_text("CREATE TABLE b (x JSONB);\n")
    (tmp_path / "README.md").write_text("not a migration")
    sqlite = load_migrations("sqlite", tmp_path)
    postgres = load_migrations("postgres", tmp_path)
    assert [(m.version, m.name) for m in sqlite] == [(1, "base"), (100, "audit")]
    assert sqlite[1].statements == ("CREATE TABLE b (x TEXT)",)
    assert postgres[1].statements == ("CREATE TABLE b (x JSONB)",)


def test_two_names_for_one_version_are_refused(tmp_path: Path) -> None:
    """Two different migrations claiming one version number is an error."""
    (tmp_path / "0002_one.sql").write_text("CREATE TABLE a (x TEXT);\n")
    (tmp_path / "0002_two.sql").write_text("CREATE TABLE b (x TEXT);\n")
    with pytest.raises(ValueError, match="share version"):
        load_migrations("sqlite", tmp_path)


async def test_a_cancelled_transaction_never_leaves_the_connection_inside_one(
    store: Store,
) -> None:
    """Cancelling a writer at any await (BEGIN, a statement, COMMIT) leaves no open transaction.

    Shutdown cancels background workers wherever they are; a transaction left open on
    SQLite's single writer connection would make every later write fail.
    """

    async def writer(started: asyncio.Event) -> None:
        async with store.transaction() as tx:
            started.set()
            await tx.execute("DELETE FROM nonces WHERE client_id = $1", "nobody")
            await tx.execute("DELETE FROM nonces WHERE client_id = $1", "nobody")

    for delay_steps in range(8):  # cancel after 0, 1, 2 … event-loop steps
        started = asyncio.Event()
        task = asyncio.create_task(writer(started))
        for _ in range(delay_steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with store.transaction() as tx:  # must start: nothing left open
            await tx.execute("DELETE FROM nonces WHERE client_id = $1", "nobody")
