"""The bulkhead of one upstream: a cap on calls in flight, with a bounded wait.

One slow national system must not hold every connection and task of the
gateway. A caller over the cap waits in line (first come, first served) at most
``max_wait_seconds``, then gets :class:`BulkheadFull` (503 with Retry-After).
A freed slot is handed straight to the next waiter, so a newcomer never jumps
the line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from adapters.config import BulkheadConfig
from adapters.errors import BulkheadFull

#: ``retry_after`` suggested to a caller refused by a full bulkhead.
BULKHEAD_RETRY_AFTER = 1.0


class Bulkhead:
    """At most ``config.max_concurrent`` holders of a slot at a time (one event loop)."""

    def __init__(self, upstream: str, config: BulkheadConfig) -> None:
        self.upstream = upstream
        self.config = config
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        """Slots held now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot."""
        return len(self._waiters)

    async def acquire(self, max_wait: float | None = None, *, operation: str | None = None) -> None:
        """Take a slot, waiting at most ``max_wait`` (default: the configured one)."""
        # A freed slot goes straight to the first waiter (``release``), so a free slot
        # here means nobody is waiting: the line is kept without checking it.
        if self._in_flight < self.config.max_concurrent:
            self._in_flight += 1
            return
        wait = (
            self.config.max_wait_seconds
            if max_wait is None
            else min(max_wait, self.config.max_wait_seconds)
        )
        if wait <= 0:
            raise self._full(operation)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot arrived as we gave up: pass it on
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise self._full(operation) from None
            raise

    def release(self) -> None:
        """Free a slot: hand it to the first waiter still waiting, or put it back."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; in_flight stays
                return
        self._in_flight -= 1

    @contextlib.asynccontextmanager
    async def slot(
        self, max_wait: float | None = None, *, operation: str | None = None
    ) -> AsyncIterator[None]:
        """``async with bulkhead.slot():`` holds one slot for the block."""
        await self.acquire(max_wait, operation=operation)
        try:
            yield
        finally:
            self.release()

    def _full(self, operation: str | None) -> BulkheadFull:
        return BulkheadFull(
            f"too many calls in flight to upstream {self.upstream}",
            retry_after=BULKHEAD_RETRY_AFTER,
            upstream=self.upstream,
            operation=operation,
        )
