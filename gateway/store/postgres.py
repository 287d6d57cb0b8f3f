"""The PostgreSQL backend: an asyncpg pool shared by several gateway instances.

Nothing here serialises writers in the application: concurrency is settled by
the database (unique keys, conditional updates, ``FOR UPDATE SKIP LOCKED`` for
the outbox). Migrations run under a transaction-scoped advisory lock so that
instances starting together apply each one exactly once.

Signature nonces go through a connection of their own, outside the pool (a pooled
connection costs a reset round trip each time it goes back): one prepared
upsert per batch, no transaction around it (one statement is atomic).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from gateway.store.base import (
    Clock,
    Dialect,
    Returns,
    Row,
    Statement,
    StoreError,
    Unit,
    drive_async,
    migrated,
    to_us,
)
from gateway.store.config import StoreConfig
from gateway.store.nonces import POSTGRES_UPSERT, NonceBatcher, NonceItem, NonceKey, StoreNonces
from gateway.store.schema import apply_migrations

POSTGRES_DIALECT = Dialect(
    name="postgres", skip_locked="FOR UPDATE SKIP LOCKED", writable_ctes=True
)

T = TypeVar("T")


def _rowcount(status: str) -> int:
    """``'UPDATE 3'`` / ``'INSERT 0 1'`` → 3 / 1; statements without a count → 0."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _advisory_key(schema_name: str | None) -> int:
    digest = hashlib.sha256(f"lienthong-migrations:{schema_name or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _PostgresTransaction:
    """A transaction on one pooled connection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *params: Any) -> int:
        return _rowcount(await self._conn.execute(sql, *params))

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        row = await self._conn.fetchrow(sql, *params)
        return dict(row) if row is not None else None

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        return [dict(r) for r in await self._conn.fetch(sql, *params)]


class _UnitRunner:
    """Runs a unit's statements on one connection, opening the transaction lazily."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._transaction: Any = None
        self._standalone = False

    async def run(self, statement: Statement) -> Any:
        if statement.standalone:
            self._standalone = True
        elif self._transaction is None and statement.sql.lstrip()[:6].upper() != "SELECT":
            if self._standalone:
                raise RuntimeError("a unit wrote outside the standalone statement it promised")
            self._transaction = self._conn.transaction()
            await self._transaction.start()
        if statement.returns is Returns.ROWCOUNT:
            return _rowcount(await self._conn.execute(statement.sql, *statement.params))
        if statement.returns is Returns.ONE:
            row = await self._conn.fetchrow(statement.sql, *statement.params)
            return dict(row) if row is not None else None
        return [dict(r) for r in await self._conn.fetch(statement.sql, *statement.params)]

    async def commit(self) -> None:
        if self._transaction is not None:
            await self._transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None:
            await self._transaction.rollback()


class PostgresStore(StoreNonces):
    """The store on a PostgreSQL database (optionally inside one schema)."""

    dialect = POSTGRES_DIALECT

    def __init__(self, config: StoreConfig, clock: Clock, pool: Any) -> None:
        self.config = config
        self.clock = clock
        self._pool = pool
        self._nonces = NonceBatcher(clock, self._remember_batch)
        self._nonce_conn: Any = None
        self._nonce_upsert: Any = None

    @classmethod
    async def open(cls, config: StoreConfig, clock: Clock) -> PostgresStore:
        """Create the pool, then apply missing migrations under an advisory lock."""
        settings = {"search_path": config.schema_name} if config.schema_name else {}
        try:
            pool = await asyncpg.create_pool(
                config.url,
                min_size=1,
                max_size=config.pool_size,
                command_timeout=max(30.0, config.busy_timeout_s),
                server_settings=settings,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        return await migrated(cls(config, clock, pool))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTransaction]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    async def run_unit(self, unit: Unit[T]) -> T:
        """The unit on one pooled connection; ``BEGIN`` only at its first ordinary write.

        Reads before the first write run on their own (READ COMMITTED gives each
        statement a fresh snapshot either way), and a ``standalone`` statement, which
        holds all the unit's writes, commits by itself: one round trip for a transition.
        """
        async with self._pool.acquire() as conn:
            runner = _UnitRunner(conn)
            try:
                outcome = await drive_async(unit, runner.run)
            except BaseException:
                await runner.rollback()
                raise
            await runner.commit()
            return outcome

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        row = await self._pool.fetchrow(sql, *params)
        return dict(row) if row is not None else None

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        return [dict(r) for r in await self._pool.fetch(sql, *params)]

    async def ping(self) -> None:
        try:
            await self._pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL does not answer: {type(exc).__name__}") from exc

    async def _remember_batch(self, items: Sequence[NonceItem], now_us: int) -> set[NonceKey]:
        if self._nonce_conn is not None and self._nonce_conn.is_closed():
            await self._drop_nonce_connection()  # the server closed it since the last batch
        try:
            if self._nonce_upsert is None:
                self._nonce_conn = await self._connect()
                self._nonce_upsert = await self._nonce_conn.prepare(POSTGRES_UPSERT)
            rows = await self._nonce_upsert.fetch(
                [i[0] for i in items], [i[1] for i in items], [i[2] for i in items], now_us
            )
        except (
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,  # the server's goodbye arrived mid-statement
        ) as exc:
            await self._drop_nonce_connection()
            raise StoreError(f"nonce check failed: {type(exc).__name__}") from exc
        return {(r[0], r[1]) for r in rows}

    async def _connect(self) -> Any:
        settings = {"search_path": self.config.schema_name} if self.config.schema_name else {}
        return await asyncpg.connect(
            self.config.url,
            command_timeout=max(30.0, self.config.busy_timeout_s),
            server_settings=settings,
        )

    async def _drop_nonce_connection(self) -> None:
        conn, self._nonce_conn, self._nonce_upsert = self._nonce_conn, None, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        await self._nonces.close()
        if self._nonce_conn is not None:
            await self._nonce_conn.close()
            self._nonce_conn = self._nonce_upsert = None
        await self._pool.close()

    async def _migrate(self) -> None:
        schema_name = self.config.schema_name
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _advisory_key(schema_name))
            if schema_name:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_name}"')
            await apply_migrations(_PostgresTransaction(conn), "postgres", to_us(self.clock()))
