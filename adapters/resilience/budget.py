"""The retry budget of one upstream: retries stay a small share of the traffic.

Per-call retry limits alone let a struggling upstream receive up to
``max_attempts`` times its normal load, just when it can least take it. The
budget caps retries over a sliding window (as Finagle's ``RetryBudget`` does)::

    retries in window ≤ ratio × calls in window + min_retries_per_second × window

The floor lets a quiet upstream still retry now and then; the ratio bounds the
extra load under a storm.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from adapters.config import RetryBudgetConfig


class RetryBudget:
    """Counts logical calls and retries over the last ``window_seconds`` (one event loop)."""

    def __init__(
        self, config: RetryBudgetConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_call(self) -> None:
        """A logical call started (its first attempt); it earns ``ratio`` retries."""
        now = self._clock()
        self._evict(now)
        self._calls.append(now)

    def try_spend(self) -> bool:
        """Spend one retry if the budget allows it; ``False`` means do not retry."""
        now = self._clock()
        self._evict(now)
        if len(self._retries) + 1 > self._allowance():
            return False
        self._retries.append(now)
        return True

    @property
    def remaining(self) -> float:
        """Retries still allowed in the current window."""
        self._evict(self._clock())
        return max(0.0, self._allowance() - len(self._retries))

    def _allowance(self) -> float:
        floor = self.config.min_retries_per_second * self.config.window_seconds
        return self.config.ratio * len(self._calls) + floor

    def _evict(self, now: float) -> None:
        horizon = now - self.config.window_seconds
        for stamps in (self._calls, self._retries):
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
