"""Seen-nonce memory for signed requests: a nonce is accepted once per signature window.

:class:`NonceStore` is the seam (one method); :class:`InMemoryNonceStore` serves
one instance. Several instances need a shared store (a unique row per
``(client_id, nonce)`` in the database) behind the same method.

The in-memory store reports its pressure as two gauges, so an alert can fire
before it is full: ``lienthong_nonce_store_entries`` (unexpired nonces held) and
``lienthong_nonce_store_capacity`` (``[server] max_nonces``). One store serves a
process; the gauges describe the latest one created.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import Gauge

from gateway.appkeys import STORE

if TYPE_CHECKING:
    from gateway.config import Settings

NONCES_HELD = Gauge(
    "lienthong_nonce_store_entries", "Unexpired signature nonces held by the in-memory nonce store"
)
NONCES_CAPACITY = Gauge(
    "lienthong_nonce_store_capacity",
    "Unexpired nonces the in-memory nonce store may hold (server.max_nonces); beyond it, 503",
)


class NonceStoreFull(RuntimeError):
    """The store holds its maximum of unexpired nonces; refusing is safer than forgetting."""


class NonceStore(Protocol):
    """Remembers ``(client_id, nonce)`` pairs until they expire."""

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        """Record the nonce; False if it was already seen and has not expired yet."""
        ...


class InMemoryNonceStore:
    """A bounded in-process :class:`NonceStore`; expired entries are swept on every call.

    ``clock`` returns epoch seconds (the same clock as ``expires_at``). When
    ``max_entries`` unexpired nonces are held, :meth:`remember` raises
    :class:`NonceStoreFull` instead of evicting a nonce that could then be replayed.
    """

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[tuple[str, str], float] = {}
        self._by_expiry: list[tuple[float, tuple[str, str]]] = []
        NONCES_CAPACITY.set(max_entries)
        NONCES_HELD.set(0)

    def __len__(self) -> int:
        return len(self._expiry)

    def _sweep(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            expires_at, key = heapq.heappop(self._by_expiry)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        """Record the nonce; False if it was already seen and has not expired yet."""
        now = self._clock()
        self._sweep(now)
        NONCES_HELD.set(len(self._expiry))
        key = (client_id, nonce)
        if key in self._expiry:
            return False
        if expires_at <= now:
            return True  # already outside the window: nothing to remember
        if len(self._expiry) >= self._max_entries:
            raise NonceStoreFull(f"nonce store holds {len(self._expiry)} unexpired nonces")
        self._expiry[key] = expires_at
        heapq.heappush(self._by_expiry, (expires_at, key))
        NONCES_HELD.set(len(self._expiry))
        return True


def nonce_store_for(
    settings: Settings, app: web.Application, clock: Callable[[], float]
) -> NonceStore:
    """Where this gateway remembers signature nonces (``[server] nonce_store``)."""
    if settings.server.nonce_store == "store":
        return SharedNonceStore(app)
    return InMemoryNonceStore(max_entries=settings.server.max_nonces, clock=clock)


class SharedNonceStore:
    """Signature nonces as unique rows in the store, so every instance sees every nonce.

    Costs one write transaction per signed request; the in-memory store (the
    default) costs nothing but only protects one instance.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app  # the store is opened later, by the app's cleanup_ctx

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        when = datetime.fromtimestamp(expires_at, UTC)
        return await self._app[STORE].remember(client_id, nonce, when)
