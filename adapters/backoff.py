"""Exponential backoff, written once: the ceiling, and full jitter under it.

After attempt ``n`` (1-based) the ceiling is ``min(maximum, initial × 2^(n-1))``;
a full-jitter wait is uniform in ``[0, ceiling)`` ("full jitter" spreads a crowd
of retrying callers best). Every retry loop of the project uses these two: the
upstream guard's retries (:class:`adapters.resilience.retry.FullJitterBackoff`,
through tenacity), the webhook outbox (full jitter), the pending-payment poller
and the alert webhook sender (the ceiling itself: one payment or one webhook,
no crowd to spread).
"""

from __future__ import annotations

from collections.abc import Callable

#: Past this exponent the ceiling is ``maximum`` anyway; capping it avoids a float overflow.
_MAX_EXPONENT = 62


def backoff_ceiling(initial: float, maximum: float, attempt: int) -> float:
    """The longest wait after attempt ``attempt`` (1-based): ``min(maximum, initial × 2^(n-1))``."""
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    return float(min(maximum, initial * 2.0**exponent))


def full_jitter(initial: float, maximum: float, attempt: int, rng: Callable[[], float]) -> float:
    """A wait uniform in ``[0, ceiling)`` after attempt ``attempt``; ``rng`` draws from [0, 1)."""
    return rng() * backoff_ceiling(initial, maximum, attempt)


__all__ = ["backoff_ceiling", "full_jitter"]
