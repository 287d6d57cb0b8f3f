"""Seen-nonce memory for signed requests: a nonce is accepted once per signature window.

:class:`NonceStore` is the seam (one method); :class:`InMemoryNonceStore` serves
one instance. Several instances need a shared store (a unique row per
``(client_id, nonce)`` in the database) behind the same method.

The in-memory store holds a 60-bit keyed BLAKE2b digest per nonce, one Python
``int`` in one ``set``, and files each digest in the time bucket of its expiry
(``bucket_seconds`` wide, 1 s by default); when a bucket's end has passed, its
digests leave the set together. About 81 bytes a nonce (``python -m
bench.nonce_memory`` measures it): the default bound of 1,000,000 nonces, enough
for 3,000 signed requests a second sustained over the 300 s window, is about
81 MB. Two different nonces with the same digest only make the later one look
like a replay (refused, the client signs again with a new nonce), never the
other way round: a replay always has the digest of its original. The digest key
is random per process, so a client cannot choose nonces that collide; the chance
that a fresh nonce is refused is held/2^60, below 10^-12 with a million held.

The store reports its pressure as two gauges, so an alert can fire before it is
full: ``lienthong_nonce_store_entries`` (nonces held) and
``lienthong_nonce_store_capacity`` (``[server] max_nonces``). One store serves a
process; the gauges describe the latest one created.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import math
import secrets
import time
from array import array
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import structlog
from aiohttp import web
from prometheus_client import Gauge

from gateway.appkeys import SETTINGS, STORE
from gateway.errors import InternalFault
from gateway.store import StoreError

if TYPE_CHECKING:
    from gateway.config import Settings

_log = structlog.get_logger("gateway.nonces")

NONCES_HELD = Gauge(
    "lienthong_nonce_store_entries", "Unexpired signature nonces held by the in-memory nonce store"
)
NONCES_CAPACITY = Gauge(
    "lienthong_nonce_store_capacity",
    "Unexpired nonces the in-memory nonce store may hold (server.max_nonces); beyond it, 503",
)

#: The default bound: 3,000 signed requests a second over the 300 s window, plus a margin.
DEFAULT_MAX_NONCES = 1_000_000
#: Bits of digest kept per nonce: ints below 2^60 are CPython's 32-byte size class.
DIGEST_BITS = 60


class NonceStoreFull(InternalFault, RuntimeError):
    """The store holds its maximum of unexpired nonces; refusing is safer than forgetting."""


class NonceStoreUnavailable(InternalFault, RuntimeError):
    """A shared store could not check the nonce (its database failed): refuse, never accept."""


class NonceStore(Protocol):
    """Remembers ``(client_id, nonce)`` pairs until they expire."""

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        """Record the nonce; False if it was already seen and has not expired yet."""
        ...


class InMemoryNonceStore:
    """A bounded in-process :class:`NonceStore` of nonce digests in expiry buckets.

    ``clock`` returns epoch seconds (the same clock as ``expires_at``). A nonce
    is held until the end of its expiry's bucket: at its expiry exactly when
    expiries are whole multiples of ``bucket_seconds`` (signature ``created``
    values are whole seconds), else at most ``bucket_seconds`` later. When
    ``max_entries`` nonces are held, :meth:`remember` raises
    :class:`NonceStoreFull` instead of forgetting a nonce that could then be
    replayed.
    """

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_NONCES,
        clock: Callable[[], float] = time.time,
        bucket_seconds: float = 1.0,
    ) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        if not bucket_seconds > 0:
            raise ValueError("bucket_seconds must be positive")
        self._max_entries = max_entries
        self._clock = clock
        self._bucket_seconds = bucket_seconds
        self._key = secrets.token_bytes(16)
        self._held: set[int] = set()
        #: Bucket number → the digests filed in it; bucket ``k`` ends at ``k * bucket_seconds``.
        self._buckets: dict[int, array[int]] = {}
        self._ends: list[int] = []  # the bucket numbers, as a min-heap
        self._next_end = math.inf  # when the earliest bucket ends
        NONCES_CAPACITY.set(max_entries)
        NONCES_HELD.set(0)

    def __len__(self) -> int:
        return len(self._held)

    def _digest(self, client_id: str, nonce: str) -> int:
        text = f"{len(client_id)}:{client_id}:{nonce}".encode()
        raw = hashlib.blake2b(text, digest_size=8, key=self._key).digest()
        return int.from_bytes(raw, "big") >> (64 - DIGEST_BITS)

    def _sweep(self, now: float) -> None:
        """Drop every bucket whose end has passed, whole."""
        ends = self._ends
        while ends and ends[0] * self._bucket_seconds <= now:
            self._held.difference_update(self._buckets.pop(heapq.heappop(ends)))
        self._next_end = ends[0] * self._bucket_seconds if ends else math.inf

    def remember_now(self, client_id: str, nonce: str, expires_at: float) -> bool:
        """:meth:`remember` without the coroutine (the store never waits)."""
        now = self._clock()
        if now >= self._next_end:
            self._sweep(now)
        digest = self._digest(client_id, nonce)
        held = self._held
        if digest in held:
            return False
        if expires_at <= now:
            return True  # already outside the window: nothing to remember
        if len(held) >= self._max_entries:
            NONCES_HELD.set(len(held))
            raise NonceStoreFull(f"nonce store holds {len(held)} unexpired nonces")
        held.add(digest)
        number = math.ceil(expires_at / self._bucket_seconds)
        bucket = self._buckets.get(number)
        if bucket is None:
            bucket = self._buckets[number] = array("Q")
            heapq.heappush(self._ends, number)
            self._next_end = self._ends[0] * self._bucket_seconds
        bucket.append(digest)
        NONCES_HELD.set(len(held))
        return True

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        """Record the nonce; False if it was already seen and has not expired yet."""
        return self.remember_now(client_id, nonce, expires_at)


def nonce_store_for(
    settings: Settings, app: web.Application, clock: Callable[[], float]
) -> NonceStore:
    """Where this gateway remembers signature nonces (``[server] nonce_store``)."""
    if settings.server.nonce_store == "store":
        return SharedNonceStore(app)
    return InMemoryNonceStore(max_entries=settings.server.max_nonces, clock=clock)


class SharedNonceStore:
    """Signature nonces as unique rows in the store, so every instance sees every nonce.

    Concurrent checks share a round trip (:mod:`gateway.store.nonces`); the
    in-memory store (the default) costs less but only protects one instance. When
    the database fails the request gets 503, never an unchecked nonce.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app  # the store is opened later, by the app's cleanup_ctx

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        when = datetime.fromtimestamp(expires_at, UTC)
        try:
            return await self._app[STORE].remember(client_id, nonce, when)
        except StoreError as exc:
            raise NonceStoreUnavailable(str(exc)) from exc


async def nonce_purge_ctx(app: web.Application) -> AsyncIterator[None]:
    """``nonce_store = "store"``: delete expired nonce rows every
    ``[server] nonce_purge_interval_seconds``, whether or not requests arrive."""
    store = app[STORE]
    interval = app[SETTINGS].server.nonce_purge_interval_seconds

    async def purge_forever() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                purged = await store.purge_expired_nonces()
            except Exception as exc:  # any database failure: the next round tries again
                _log.warning("nonces.purge_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            if purged:
                _log.debug("nonces.purged", rows=purged)

    task = asyncio.create_task(purge_forever(), name="nonce-purge")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
