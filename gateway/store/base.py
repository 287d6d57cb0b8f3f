"""The store interface every backend implements, and the time helpers they share.

The domain (the payment ledger, the outbox) writes portable SQL with numbered
parameters (``$1``, ``$2`` …, PostgreSQL style; the SQLite backend rewrites them
to ``?1``, ``?2``). Timestamps are stored as integer microseconds since the Unix
epoch (UTC) so comparison and ordering are exact on both databases. What does
differ per dialect is kept in the backend and exposed as :class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

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
