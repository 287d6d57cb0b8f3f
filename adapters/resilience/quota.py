"""Token buckets: the upstream quota, and (in the gateway) the per-client rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up. Not thread-safe (one event loop)."""

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)

    def try_take(self, n: float = 1.0) -> float:
        """Take ``n`` tokens if there are; return 0.0, else the seconds until there will be."""
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return 0.0
        return (n - self._tokens) / self.rate

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens

    def refund(self, n: float = 1.0) -> None:
        """Give back ``n`` tokens taken for a call that was then never made."""
        self._refill()
        self._tokens = min(self.burst, self._tokens + n)
