"""Request-signature nonces as unique rows, so every instance sees every nonce.

A nonce is one upsert: inserted if new, its row taken over if that row has
expired (the nonce may be used again after its window), refused otherwise.
Concurrent checks are coalesced by :class:`NonceBatcher`: while one batch is
with the database, the nonces that arrive queue up and go together in the next
(PostgreSQL: one statement over ``unnest`` arrays on a connection of its own;
SQLite: one transaction), so the gateway's CPU per check falls as load rises.
Expired rows are deleted in the background (``purge``), never on the request path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from gateway.store.base import Clock, Transaction, to_us

#: One nonce to check: client id, nonce, expiry (stored microseconds).
NonceKey = tuple[str, str]
NonceItem = tuple[str, str, int]
#: Checks a batch (no key twice) against the database; returns the keys accepted.
FlushBatch = Callable[[Sequence[NonceItem], int], Awaitable[set[NonceKey]]]

#: SQLite: one row; changes() is 1 when the nonce is new or its old row had expired.
SQLITE_UPSERT = (
    "INSERT INTO nonces (client_id, nonce, expires_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (client_id, nonce) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE nonces.expires_at <= $4"
)
#: PostgreSQL: a whole batch; returns the keys accepted.
POSTGRES_UPSERT = (
    "INSERT INTO nonces (client_id, nonce, expires_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
    " ON CONFLICT (client_id, nonce) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE nonces.expires_at <= $4"
    " RETURNING client_id, nonce"
)
PURGE = "DELETE FROM nonces WHERE expires_at <= $1"
#: Nonces sent to the database in one round trip at most.
MAX_BATCH = 1024


class NonceBatcher:
    """Coalesces concurrent nonce checks into batches, one batch at the database at a time."""

    def __init__(self, clock: Clock, flush: FlushBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._clock = clock
        self._flush = flush
        self._max_batch = max_batch
        self._queue: list[tuple[str, str, int, asyncio.Future[bool]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def remember(self, client_id: str, nonce: str, expires_us: int) -> bool:
        """True if the nonce is new (or its earlier use has expired); False for a replay."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((client_id, nonce, expires_us, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._drain(), name="nonce-batcher")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._check(batch)
        except BaseException:  # cancelled (the loop is closing): nobody may wait for ever
            for *_, future in self._queue:
                future.cancel()
            self._queue.clear()
            raise
        finally:
            self._runner = None

    async def _check(self, batch: list[tuple[str, str, int, asyncio.Future[bool]]]) -> None:
        items: dict[NonceKey, NonceItem] = {}
        for client_id, nonce, expires_us, _ in batch:
            items.setdefault((client_id, nonce), (client_id, nonce, expires_us))
        try:
            accepted = await self._flush(list(items.values()), to_us(self._clock()))
        except Exception as exc:  # every check of the batch fails as the database did
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for *_, future in batch:
                future.cancel()
            raise
        for client_id, nonce, _, future in batch:
            key = (client_id, nonce)
            # The first of a key in the batch gets the database's answer; a repeat is a replay.
            fresh = key in accepted and items.pop(key, None) is not None
            if not future.done():
                future.set_result(fresh)

    async def close(self) -> None:
        """Let the batch in flight and those queued finish."""
        runner = self._runner
        if runner is not None:
            await asyncio.shield(runner)


async def remember_in(tx: Transaction, items: Sequence[NonceItem], now_us: int) -> set[NonceKey]:
    """SQLite's batch: one upsert a nonce inside the caller's transaction."""
    accepted: set[NonceKey] = set()
    for client_id, nonce, expires_us in items:
        if await tx.execute(SQLITE_UPSERT, client_id, nonce, expires_us, now_us) == 1:
            accepted.add((client_id, nonce))
    return accepted


async def purge(tx: Transaction, clock: Clock) -> int:
    """Delete every expired nonce."""
    return await tx.execute(PURGE, to_us(clock()))


class _NonceHolder(Protocol):
    clock: Clock
    _nonces: NonceBatcher

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...


class StoreNonces:
    """The store's nonce methods, the same on both backends: checks go through the store's
    :class:`NonceBatcher` (each backend flushes a batch its own way), purges are a transaction."""

    async def remember(
        self: _NonceHolder, client_id: str, nonce: str, expires_at: datetime
    ) -> bool:
        return await self._nonces.remember(client_id, nonce, to_us(expires_at))

    async def purge_expired_nonces(self: _NonceHolder) -> int:
        async with self.transaction() as tx:
            return await purge(tx, self.clock)
