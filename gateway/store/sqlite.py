"""The SQLite backend: one writer connection, WAL, durable commits.

Writes are serialised by an asyncio lock around a dedicated writer connection
and by ``BEGIN IMMEDIATE`` against other processes or other stores on the same
file (``busy_timeout`` makes them wait rather than fail). Reads outside a
transaction go through a second connection and, thanks to WAL, never wait for
the writer. ``synchronous=FULL`` makes every commit durable across power loss.

Switching a file to WAL is the one step ``busy_timeout`` does not cover: SQLite
runs ``PRAGMA journal_mode = WAL`` by first taking a read lock to look at the
header and then upgrading to a write lock to rewrite it, and an upgrade from a
read lock never calls the busy handler (two connections holding read locks would
otherwise wait on each other for ever). So when several connections open a new
file at once, or another one holds the write lock, the switch fails at once
with ``database is locked``; ``_enter_wal`` retries it, with a growing pause,
until ``busy_timeout_s`` has passed.

Units (:meth:`SQLiteStore.run_unit`, the payment ledger's path) are group
committed: each caller queues its unit and waits; one flusher takes everything
queued, hands it to the writer thread in one call, and there runs ``BEGIN
IMMEDIATE``, each unit inside its own ``SAVEPOINT`` (a unit that raises is rolled
back to it, alone), then one ``COMMIT``: one fsync for the whole group. Only
then is each caller answered, with its own unit's outcome, so nothing answered
can be lost. While one group commits, the next one gathers; at low load a group
is one unit and nothing waits for company.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from gateway.store.base import (
    Clock,
    Dialect,
    Returns,
    Row,
    Statement,
    StoreError,
    Unit,
    drive,
    migrated,
    to_us,
)
from gateway.store.config import StoreConfig
from gateway.store.nonces import NonceBatcher, NonceItem, NonceKey, StoreNonces, remember_in
from gateway.store.schema import apply_migrations

_PARAM = re.compile(r"\$(\d+)")

SQLITE_DIALECT = Dialect(name="sqlite", skip_locked="")

T = TypeVar("T")

#: The most units one group commit takes (the rest wait for the next group).
MAX_GROUP = 256


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path.db`` → ``rel/path.db``; ``sqlite:////abs.db`` → ``/abs.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreError("a SQLite store URL looks like sqlite:///path/to/file.db")
    return url[len(prefix) :]


@functools.lru_cache(maxsize=512)
def _sql(sql: str) -> str:
    """``$1`` placeholders as SQLite's ``?1`` (the statements are few and fixed: cached,
    which spared the audit writer a regex substitution per row batch)."""
    return _PARAM.sub(r"?\1", sql)


class _Reads:
    """``fetch_one`` and ``fetch_all`` on the connection in ``_read_on``."""

    _read_on: aiosqlite.Connection

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        rows = await self.fetch_all(sql, *params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        rows = await self._read_on.execute_fetchall(_sql(sql), params)
        return [dict(row) for row in rows]


class _SQLiteTransaction(_Reads):
    """The open ``BEGIN IMMEDIATE`` transaction on the writer connection (it reads there too)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = self._read_on = conn

    async def execute(self, sql: str, *params: Any) -> int:
        cursor = await self._conn.execute(_sql(sql), params)
        try:
            return int(cursor.rowcount)
        finally:
            await cursor.close()


async def _to_completion(operation: Awaitable[Any]) -> Any:
    """Await an aiosqlite call to its end even if the caller is cancelled meanwhile.

    The statement runs in aiosqlite's thread whether or not anyone waits for it;
    a caller cancelled mid-BEGIN or mid-COMMIT must still know where the
    connection stands before it lets go of the writer lock. The cancellation is
    re-raised once the statement has finished.
    """
    future = asyncio.ensure_future(operation)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


@dataclass
class _Queued:
    """A unit waiting for its group, and the caller's future."""

    unit: Unit[Any]
    done: asyncio.Future[Any]


@dataclass
class GroupCommitStats:
    """How units were grouped since the store opened (the bench prints them)."""

    groups: int = 0
    units: int = 0
    largest: int = 0
    rolled_back: int = 0

    def record(self, size: int) -> None:
        self.groups += 1
        self.units += size
        self.largest = max(self.largest, size)


def _run_statement(conn: sqlite3.Connection, statement: Statement) -> Any:
    cursor = conn.execute(_sql(statement.sql), statement.params)
    try:
        if statement.returns is Returns.ROWCOUNT:
            return int(cursor.rowcount)
        if statement.returns is Returns.ONE:
            row = cursor.fetchone()
            return dict(row) if row is not None else None
        return [dict(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _run_group(conn: sqlite3.Connection, group: list[_Queued]) -> list[tuple[bool, Any]]:
    """On the writer thread: one transaction, a savepoint per unit, one commit.

    Returns each unit's ``(ok, outcome or exception)``. Raises (after rolling back)
    when the transaction itself fails: no unit of the group is committed then.
    """
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for queued in group:
            conn.execute("SAVEPOINT unit")
            try:
                outcome = drive(queued.unit, lambda st: _run_statement(conn, st))
            except Exception as exc:  # the unit's own failure: its caller's
                if not conn.in_transaction:
                    raise  # SQLite rolled the whole transaction back (disk full, I/O error)
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE unit")
                outcomes.append((True, outcome))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


class SQLiteStore(_Reads, StoreNonces):
    """The store on one SQLite file (reads outside a transaction on the reader connection)."""

    dialect = SQLITE_DIALECT

    def __init__(
        self,
        config: StoreConfig,
        clock: Clock,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
    ) -> None:
        self.config = config
        self.clock = clock
        self._writer = writer
        self._reader = self._read_on = reader
        self._write_lock = asyncio.Lock()
        self._nonces = NonceBatcher(clock, self._remember_batch)
        self._queue: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None
        #: How the units were grouped (groups, units, the largest group).
        self.group_stats = GroupCommitStats()

    @classmethod
    async def open(cls, config: StoreConfig, clock: Clock) -> SQLiteStore:
        """Open (creating if needed) the file, set the pragmas, apply migrations."""
        path = sqlite_path(config.url)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path, config)
        try:
            reader = await _connect(path, config)
        except BaseException:
            await writer.close()
            raise
        return await migrated(cls(config, clock, writer, reader))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteTransaction]:
        async with self._write_lock:
            try:
                await _to_completion(self._writer.execute("BEGIN IMMEDIATE"))
            except sqlite3.OperationalError as exc:
                raise StoreError(f"could not start a write transaction: {exc}") from exc
            except BaseException:
                await self._rollback_if_open()
                raise
            try:
                yield _SQLiteTransaction(self._writer)
                await _to_completion(self._writer.execute("COMMIT"))
            except BaseException:
                await self._rollback_if_open()
                raise

    async def run_unit(self, unit: Unit[T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(unit, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="sqlite-group-commit")
        # A cancelled caller stops waiting; its unit still runs (or already ran) with
        # its group, and was never acknowledged.
        return await done

    async def _flush(self) -> None:
        """Commit the queued units, group by group, until none is left."""
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            group = [queued for queued in group if not queued.done.cancelled()]
            if not group:
                continue
            async with self._write_lock:
                try:
                    # aiosqlite's own queue to its thread: the whole group in one hand-off.
                    run = self._writer._execute(_run_group, self._writer._conn, group)  # type: ignore[no-untyped-call]
                    outcomes = await _to_completion(run)
                except Exception as exc:  # every caller of the group is told
                    failure = StoreError(f"the group commit failed: {exc}")
                    failure.__cause__ = exc
                    for queued in group:
                        if not queued.done.done():
                            queued.done.set_exception(failure)
                    continue
            self.group_stats.record(len(group))
            for queued, (ok, value) in zip(group, outcomes, strict=True):
                if not ok:
                    self.group_stats.rolled_back += 1
                if queued.done.done():
                    continue
                if ok:
                    queued.done.set_result(value)
                else:
                    queued.done.set_exception(value)

    async def _rollback_if_open(self) -> None:
        """Leave the single writer connection outside any transaction, whatever happened."""
        if self._writer.in_transaction:
            await _to_completion(self._writer.rollback())

    async def ping(self) -> None:
        try:
            await self._reader.execute_fetchall("SELECT 1")
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"SQLite does not answer: {exc}") from exc

    async def _remember_batch(self, items: Sequence[NonceItem], now_us: int) -> set[NonceKey]:
        async with self.transaction() as tx:
            return await remember_in(tx, items, now_us)

    async def close(self) -> None:
        await self._nonces.close()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        await self._reader.close()
        await self._writer.close()

    async def _migrate(self) -> None:
        async with self.transaction() as tx:
            await apply_migrations(tx, "sqlite", to_us(self.clock()))


async def _connect(path: str, config: StoreConfig) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout_s * 1000)}")
        await _enter_wal(conn, config.busy_timeout_s)
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


#: The first pause between two attempts to switch to WAL, and the longest one.
_WAL_FIRST_PAUSE_S = 0.001
_WAL_LONGEST_PAUSE_S = 0.05


async def _enter_wal(conn: aiosqlite.Connection, timeout_s: float) -> None:
    """Put the file in WAL mode, retrying while another connection holds a lock on it.

    The retry starts from no transaction, so it sees the header another
    connection may have rewritten meanwhile (then the switch is a no-op). Any
    error but ``SQLITE_BUSY``, or a busy file past ``timeout_s``, is raised.
    """
    deadline = time.monotonic() + timeout_s
    pause = _WAL_FIRST_PAUSE_S
    while True:
        try:
            rows = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if not _is_busy(exc) or left <= 0:
                raise
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _WAL_LONGEST_PAUSE_S)
            continue
        mode = str(next(iter(rows))[0]).lower()
        if mode != "wal":
            raise StoreError(f"SQLite kept journal_mode {mode!r} instead of WAL")
        return


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for a lock held elsewhere (``SQLITE_BUSY`` and its extended codes)."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
