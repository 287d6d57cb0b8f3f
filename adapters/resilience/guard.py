"""The guard every call to one national system goes through.

:class:`UpstreamGuard` implements :class:`adapters.guard.CallGuard`. For each
logical call it applies, in order:

1. **quota** — one token from the upstream's bucket, else :class:`QuotaExhausted`
   (``retry_after`` = time to the next token);
2. **circuit breaker** — else :class:`CircuitOpen` (``retry_after`` = time to
   half-open);
3. **bulkhead** — a slot, waiting at most ``max_wait_seconds`` (and never past the
   deadline), else :class:`BulkheadFull`;
4. **attempts** — each under ``asyncio.timeout(min(per_try_timeout_seconds, time left
   before the deadline))``; a timeout becomes :class:`UpstreamTimeout`. Retries
   (tenacity, full jitter) only for a ``safe_to_retry`` operation and a
   ``retryable`` error, while attempts, retry budget and deadline allow; each
   retry takes its own quota token and asks the breaker again, and a refusal
   there ends the call with that refusal (503).

The breaker hears every attempt that reached the upstream: an
:class:`AdapterError` counts as a failure when ``counts_as_failure``, as a
success otherwise (the upstream answered); an exception that is not an
``AdapterError`` is a bug in the adapter, counts as a failure and propagates
unchanged. :class:`UpstreamUnavailable` raised by the attempt itself (a nested
guard, e.g. the token endpoint's) says nothing about this upstream.

Raised ``AdapterError``\\ s get ``upstream`` and ``operation`` filled in. The
guard does not record exchanges (adapters do); it tells them how many attempts
the last call made through :func:`last_attempts` (a context variable, set when
``call`` returns or raises in the caller's own task).
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from prometheus_client import Counter
from tenacity import RetryCallState

from adapters.aliases import Sleep
from adapters.config import OperationPolicy, UpstreamResilience
from adapters.errors import (
    AdapterError,
    QuotaExhausted,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience.breaker import BreakerPermit, BreakerState, CircuitBreaker
from adapters.resilience.budget import RetryBudget
from adapters.resilience.bulkhead import Bulkhead
from adapters.resilience.quota import TokenBucket
from adapters.resilience.retry import build_retrying

T = TypeVar("T")

log = structlog.get_logger(__name__)

UPSTREAM_RETRIES = Counter(
    "lienthong_upstream_retries",
    "Retry attempts made by the resilience policy",
    ["upstream", "operation"],
)
UPSTREAM_REFUSALS = Counter(
    "lienthong_upstream_refusals",
    "Calls refused before reaching the upstream (quota, breaker, bulkhead)",
    ["upstream", "reason"],
)

_last_attempts: contextvars.ContextVar[int] = contextvars.ContextVar(
    "lienthong_upstream_last_attempts", default=0
)


def last_attempts() -> int:
    """Attempts that reached the upstream in this task's last guarded call (0 if refused)."""
    return _last_attempts.get()


@dataclass
class _CallState:
    """What one logical call has done so far."""

    operation: str
    policy: OperationPolicy
    deadline_at: float
    first_permit: BreakerPermit | None
    attempts: int = 0


class UpstreamGuard:
    """Quota, circuit breaker, bulkhead, timeouts and safe retries for one upstream."""

    def __init__(
        self,
        upstream: str,
        config: UpstreamResilience,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.upstream = upstream
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self.quota = TokenBucket(config.quota.rate_per_second, config.quota.burst, clock=clock)
        self.breaker = CircuitBreaker(upstream, config.breaker, clock=clock)
        self.bulkhead = Bulkhead(upstream, config.bulkhead)
        self.retry_budget = RetryBudget(config.retry_budget, clock=clock)

    @property
    def state(self) -> BreakerState:
        """The breaker's state."""
        return self.breaker.state

    def snapshot(self) -> dict[str, object]:
        """The guard's state for /readyz: breaker, calls in flight, quota and retry budget."""
        return {
            "upstream": self.upstream,
            "breaker": self.breaker.snapshot(),
            "in_flight": self.bulkhead.in_flight,
            "waiting": self.bulkhead.waiting,
            "quota_tokens": round(self.quota.available, 3),
            "retry_budget": round(self.retry_budget.remaining, 3),
        }

    async def call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` (one try; called again for each retry) under the policy."""
        policy = self.config.policy_for(operation)
        _last_attempts.set(0)
        state = _CallState(operation, policy, self._clock() + policy.deadline_seconds, None)
        try:
            state.first_permit = self._admit(operation)
            try:
                await self.bulkhead.acquire(state.deadline_at - self._clock(), operation=operation)
            except BaseException:
                self._give_back(state.first_permit)
                raise
            try:
                self.retry_budget.record_call()
                # The first attempt runs outside tenacity: most calls succeed (or fail for
                # good) at once, and building and driving the controller cost about 25 µs a
                # call. A retryable failure is handed to tenacity as its first attempt's
                # outcome, so the retries, waits, budget and deadline are decided as before.
                try:
                    return await self._attempt(state, attempt)
                except AdapterError as exc:
                    if not (policy.safe_to_retry and exc.retryable):
                        raise
                    replay: list[AdapterError] = [exc]
                retrying = build_retrying(
                    policy,
                    deadline_at=state.deadline_at,
                    clock=self._clock,
                    sleep=self._sleep,
                    budget=self.retry_budget,
                    rng=self._rng,
                    upstream=self.upstream,
                    operation=operation,
                    before_sleep=lambda retry_state: self._log_retry(operation, retry_state),
                )
                return await retrying(self._retry_attempt, state, attempt, replay)
            finally:
                self.bulkhead.release()
        except AdapterError as exc:
            exc.upstream = exc.upstream or self.upstream
            exc.operation = exc.operation or operation
            if isinstance(exc, UpstreamUnavailable) and state.attempts == 0:
                UPSTREAM_REFUSALS.labels(self.upstream, exc.problem_type).inc()
            raise
        finally:
            _last_attempts.set(state.attempts)

    def _admit(self, operation: str) -> BreakerPermit:
        """One quota token and the breaker's leave, or the refusal."""
        wait = self.quota.try_take()
        if wait > 0:
            raise QuotaExhausted(
                f"quota for upstream {self.upstream} is spent",
                retry_after=wait,
                upstream=self.upstream,
                operation=operation,
            )
        try:
            return self.breaker.acquire(operation)
        except BaseException:
            self.quota.refund()
            raise

    def _give_back(self, permit: BreakerPermit) -> None:
        """Undo :meth:`_admit` for a call that never reached the upstream."""
        self.breaker.release(permit)
        self.quota.refund()

    async def _retry_attempt(
        self,
        state: _CallState,
        attempt: Callable[[], Awaitable[T]],
        replay: list[AdapterError],
    ) -> T:
        """tenacity's attempt: the failure of the attempt already made, then real attempts."""
        if replay:
            raise replay.pop()
        return await self._attempt(state, attempt)

    async def _attempt(self, state: _CallState, attempt: Callable[[], Awaitable[T]]) -> T:
        """One try: admission (for retries), per-try timeout, breaker bookkeeping."""
        permit = state.first_permit
        state.first_permit = None
        if permit is None:
            permit = self._admit(state.operation)
        remaining = state.deadline_at - self._clock()
        if remaining <= 0:
            self._give_back(permit)
            raise UpstreamTimeout(
                f"deadline of {state.policy.deadline_seconds}s spent before the attempt",
                upstream=self.upstream,
                operation=state.operation,
            )
        limit = min(state.policy.per_try_timeout_seconds, remaining)
        timer = asyncio.timeout(limit)
        state.attempts += 1
        try:
            async with timer:
                result = await attempt()
        except TimeoutError as exc:
            self.breaker.record(permit, failed=True)
            if not timer.expired():
                raise  # the adapter let a TimeoutError escape: a bug, propagate it
            # Name the configured limit that ran out, not the time that happened to be left.
            if limit < state.policy.per_try_timeout_seconds:
                what = f"deadline of {state.policy.deadline_seconds:g}s"
            else:
                what = f"per-try timeout of {state.policy.per_try_timeout_seconds:g}s"
            raise UpstreamTimeout(
                f"{what} exceeded",
                upstream=self.upstream,
                operation=state.operation,
            ) from exc
        except UpstreamUnavailable:
            self.breaker.release(permit)  # a nested guard refused: no news of this upstream
            raise
        except AdapterError as exc:
            self.breaker.record(permit, failed=exc.counts_as_failure)
            raise
        except Exception:
            self.breaker.record(permit, failed=True)
            raise
        except BaseException:
            self.breaker.release(permit)  # cancelled: the outcome is unknown
            raise
        self.breaker.record(permit, failed=False)
        return result

    def _log_retry(self, operation: str, retry_state: RetryCallState) -> None:
        """Count and log a retry about to happen (the error's class only: no payloads)."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        UPSTREAM_RETRIES.labels(self.upstream, operation).inc()
        log.info(
            "upstream_retry",
            upstream=self.upstream,
            operation=operation,
            attempt=retry_state.attempt_number,
            sleep_ms=round(retry_state.upcoming_sleep * 1000, 3),
            error=type(error).__name__,
        )
