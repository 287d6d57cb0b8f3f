"""The store interface every backend implements, and the time helpers they share.

The domain (the payment ledger, the outbox) writes portable SQL with numbered
parameters (``$1``, ``$2`` …, PostgreSQL style; the SQLite backend rewrites them
to ``?1``, ``?2``). Timestamps are stored as integer microseconds since the Unix
epoch (UTC) so comparison and ordering are exact on both databases. What does
differ per dialect is kept in the backend and exposed as :class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from gateway.errors import InternalFault

#: One result row, column name → value.
Row = dict[str, Any]
#: The injectable wall clock: returns an aware UTC datetime.
Clock = Callable[[], datetime]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def to_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (the stored form)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """The stored form back as an aware UTC datetime."""
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


class StoreError(InternalFault):
    """The store could not do what was asked (connection lost, lock timeout, bad URL)."""


@dataclass(frozen=True)
class Dialect:
    """The few SQL fragments that differ between backends."""

    name: str
    #: Appended to a SELECT that claims rows other instances may claim concurrently.
    skip_locked: str
    #: Whether ``WITH x AS (UPDATE … RETURNING …) INSERT …`` works (one round trip for
    #: several writes): PostgreSQL yes, SQLite no.
    writable_ctes: bool = False


class Returns(Enum):
    """What a :class:`Statement` gives back to the unit that yielded it."""

    #: The number of rows it changed.
    ROWCOUNT = "rowcount"
    #: Its first row, or None.
    ONE = "one"
    #: All its rows.
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement a :data:`Unit` asks its store to run.

    ``standalone`` promises that the statement holds all the unit's writes (the unit
    writes nothing else; it may send another standalone one after one that changed
    nothing): a store that runs statements one round trip each (PostgreSQL) may
    then run it alone, committed by itself, without ``BEGIN``/``COMMIT`` around it.
    """

    sql: str
    params: tuple[Any, ...]
    returns: Returns = Returns.ROWCOUNT
    standalone: bool = False


T = TypeVar("T")

#: A unit of work as a generator: it yields :class:`Statement`\ s, is sent each one's
#: result (an int, a :data:`Row` or None, a list of rows), and returns its outcome.
#: A unit does no I/O of its own, so a store can run it wherever it likes: SQLite on
#: its writer thread, inside a group commit (one hand-off per unit), PostgreSQL on a
#: pooled connection. An exception a statement raises is thrown into the generator.
Unit = Generator[Statement, Any, T]


def _advance(unit: Unit[Any], ok: bool, value: Any) -> Statement:
    """The unit's next statement after its last one gave ``value`` (or raised it)."""
    return unit.send(value) if ok else unit.throw(value)


def drive(unit: Unit[T], run: Callable[[Statement], Any]) -> T:
    """Run ``unit`` to its end, each statement through ``run`` (synchronously)."""
    try:
        statement = next(unit)
        while True:
            try:
                outcome = True, run(statement)
            except Exception as exc:  # thrown into the unit: it decides (re-raises by default)
                outcome = False, exc
            statement = _advance(unit, *outcome)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive_async(unit: Unit[T], run: Callable[[Statement], Awaitable[Any]]) -> T:
    """Run ``unit`` to its end, awaiting each statement through ``run``."""
    try:
        statement = next(unit)
        while True:
            try:
                outcome = True, await run(statement)
            except Exception as exc:  # thrown into the unit: it decides (re-raises by default)
                outcome = False, exc
            statement = _advance(unit, *outcome)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class _Migrating(Protocol):
    async def _migrate(self) -> None: ...

    async def close(self) -> None: ...


_Opened = TypeVar("_Opened", bound=_Migrating)


async def migrated(store: _Opened) -> _Opened:
    """``store`` with its missing migrations applied; closed, and the error raised, if not.

    The last step of every backend's ``open``.
    """
    try:
        await store._migrate()
    except BaseException:
        await store.close()
        raise
    return store


class Transaction(Protocol):
    """One open write transaction; committed on clean exit, rolled back on error."""

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; returns the number of rows it changed."""

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        """Run one statement (a SELECT or a ``… RETURNING``); its first row or None."""

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        """Run one statement (a SELECT or a ``… RETURNING``); all its rows."""


class Store(Protocol):
    """The gateway's persistence: transactions, reads, nonces, health."""

    dialect: Dialect
    clock: Clock

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite, a pooled connection on PG)."""

    async def run_unit(self, unit: Unit[T]) -> T:
        """Run ``unit`` atomically: its writes commit together, or (it raised) not at all.

        Returns once its writes are durably committed. SQLite runs it on the writer
        thread with the other units queued meanwhile, each in its own savepoint, under
        one group commit; PostgreSQL on a pooled connection in one transaction (or, for
        a unit whose writes are all in ``standalone`` statements, each of them alone).
        """

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        """A read outside any transaction (sees committed data)."""

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        """A read outside any transaction (sees committed data)."""

    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers (for ``/readyz``)."""

    async def remember(self, client_id: str, nonce: str, expires_at: datetime) -> bool:
        """Record a request nonce; False if it was already seen and has not expired."""

    async def purge_expired_nonces(self) -> int:
        """Delete nonces past their expiry; returns how many."""

    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
