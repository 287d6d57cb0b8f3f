"""The seam between an adapter and the resilience policy.

An adapter hands each logical upstream call to a :class:`CallGuard` as a
zero-argument coroutine factory (one attempt). The real guard
(:class:`adapters.resilience.UpstreamGuard`) applies quota, circuit breaker,
bulkhead, per-try timeout, deadline and safe retries; :class:`Unguarded` runs
the attempt once and is for unit tests of one adapter function only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class CallGuard(Protocol):
    async def call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T: ...


class Unguarded:
    """Runs each attempt exactly once, with no policy. Unit tests only."""

    async def call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await attempt()
