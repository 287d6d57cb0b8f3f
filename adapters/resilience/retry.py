"""Retry strategies for one logical upstream call, built on tenacity.

* :class:`FullJitterBackoff` — wait a uniform random time in ``[0, cap]``,
  ``cap = min(backoff_max, backoff_initial × 2^(n-1))`` after attempt ``n``
  ("full jitter", which spreads a crowd of retrying callers best).
* :class:`RetryWhenSafe` — retry only an operation marked safe, and only an
  :class:`~adapters.errors.AdapterError` that says it is ``retryable``.
* :class:`StopWhenSpent` — stop when attempts are used up, when the backoff
  would not fit in the deadline, or when the retry budget says no (checked
  last, so a retry is only spent when it will really happen).

:func:`build_retrying` composes them into a tenacity ``AsyncRetrying`` that
re-raises the last error unchanged. Sleep and random source are injectable so
tests never wait.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

import structlog
from tenacity import AsyncRetrying, RetryCallState
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from adapters.aliases import Monotonic as Clock
from adapters.aliases import Sleep
from adapters.backoff import backoff_ceiling, full_jitter
from adapters.config import OperationPolicy
from adapters.errors import AdapterError
from adapters.resilience.budget import RetryBudget

log = structlog.get_logger(__name__)


class FullJitterBackoff(wait_base):
    """Exponential backoff with full jitter, from an injectable random source."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng if rng is not None else random.SystemRandom()

    def cap(self, attempt_number: int) -> float:
        """The largest wait after attempt ``attempt_number`` (1-based)."""
        return backoff_ceiling(self.initial, self.maximum, attempt_number)

    def __call__(self, retry_state: RetryCallState) -> float:
        draw = functools.partial(self._rng.uniform, 0.0, 1.0)  # the injected source's own draw
        return full_jitter(self.initial, self.maximum, retry_state.attempt_number, draw)


class RetryWhenSafe(retry_base):
    """Retry a failed attempt only if the operation is safe and the error retryable."""

    def __init__(self, safe_to_retry: bool) -> None:
        self.safe_to_retry = safe_to_retry

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if not self.safe_to_retry or outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        return isinstance(error, AdapterError) and error.retryable


class StopWhenSpent(stop_base):
    """Stop on attempts used up, a backoff past the deadline, or an empty retry budget."""

    def __init__(
        self,
        max_attempts: int,
        deadline_at: float,
        clock: Clock,
        budget: RetryBudget,
        *,
        upstream: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.upstream = upstream
        self.operation = operation
        self.max_attempts = max_attempts
        self.deadline_at = deadline_at
        self._clock = clock
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        if self._clock() + retry_state.upcoming_sleep >= self.deadline_at:
            return True
        if not self._budget.try_spend():
            log.warning(
                "upstream_retry_budget_spent",
                upstream=self.upstream,
                operation=self.operation,
                attempt=retry_state.attempt_number,
            )
            return True
        return False


def build_retrying(
    policy: OperationPolicy,
    *,
    deadline_at: float,
    clock: Clock,
    sleep: Sleep,
    budget: RetryBudget,
    rng: random.Random | None = None,
    upstream: str | None = None,
    operation: str | None = None,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """The tenacity controller for one logical call under ``policy``."""
    return AsyncRetrying(
        sleep=sleep,
        stop=StopWhenSpent(
            policy.max_attempts,
            deadline_at,
            clock,
            budget,
            upstream=upstream,
            operation=operation,
        ),
        wait=FullJitterBackoff(policy.backoff_initial_seconds, policy.backoff_max_seconds, rng),
        retry=RetryWhenSafe(policy.safe_to_retry),
        before_sleep=before_sleep,
        reraise=True,
    )
