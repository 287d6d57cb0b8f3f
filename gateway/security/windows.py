"""Sliding windows the detectors count in (monotonic seconds, injected by the caller)."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class SlidingCount:
    """How many events each key had within the last ``window`` seconds."""

    def __init__(self, window: float, *, max_keys: int = 50_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._events: dict[Hashable, deque[float]] = {}

    def add(self, key: Hashable, now: float) -> int:
        """Count one event for ``key`` at ``now``; the count within the window (this one too)."""
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self.sweep(now)
            events = self._events[key] = deque()
        events.append(now)
        while events and events[0] <= now - self.window:
            events.popleft()
        return len(events)

    def sweep(self, now: float) -> None:
        """Forget keys with nothing inside the window (bounds memory under address churn)."""
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for key in stale:
            del self._events[key]
        if len(self._events) >= self.max_keys:  # still full: drop the quietest
            del self._events[min(self._events, key=lambda k: self._events[k][-1])]


class VerificationWindow:
    """One client's verifications within the window: distinct ids and mismatches."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: deque[tuple[float, str, bool]] = deque()
        self._ids: dict[str, int] = {}
        self._mismatches = 0

    def add(self, now: float, id_digest: str, mismatch: bool) -> tuple[int, float]:
        """Record one verification; (distinct ids, mismatch rate) within the window."""
        self._seen.append((now, id_digest, mismatch))
        self._ids[id_digest] = self._ids.get(id_digest, 0) + 1
        self._mismatches += mismatch
        while self._seen and self._seen[0][0] <= now - self.window:
            _, old_id, old_mismatch = self._seen.popleft()
            self._mismatches -= old_mismatch
            left = self._ids[old_id] - 1
            if left:
                self._ids[old_id] = left
            else:
                del self._ids[old_id]
        return len(self._ids), self._mismatches / len(self._seen)


class RateBaseline:
    """A client's requests per window: the current window's count and the usual one."""

    def __init__(self, window: float, baseline: float) -> None:
        self.window = window
        self.periods = max(1, round(baseline / window))
        self._counts: dict[int, int] = {}
        #: The period of the last call and its mean of the previous windows: within one
        #: period nothing is dropped and the previous windows do not change.
        self._period: int | None = None
        self._usual = 0.0

    def add(self, now: float) -> tuple[int, float]:
        """Count one request; (count in the current window, mean of the previous windows)."""
        period = int(now // self.window)
        counts = self._counts
        count = counts[period] = counts.get(period, 0) + 1
        if period != self._period:
            oldest = period - self.periods
            for stale in [p for p in counts if p < oldest]:
                del counts[stale]
            previous = sum(c for p, c in counts.items() if p < period)
            self._period, self._usual = period, previous / self.periods
        return count, self._usual
