"""The resilience policy of one upstream, declared in configuration.

An :class:`UpstreamResilience` belongs to one national system (population,
business, payment…) and holds what is shared by all its operations (circuit
breaker, bulkhead, quota, retry budget) plus one :class:`OperationPolicy` per
adapter operation (timeouts, deadline, retries)::

    [population.resilience]
    quota = { rate_per_second = 20, burst = 40 }
    [population.resilience.operations.TraCuuThongTinCongDan]
    per_try_timeout = 3.0
    deadline = 8.0
    safe_to_retry = true

Every model refuses unknown keys, so a typo in the TOML fails at start-up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperationPolicy(_Strict):
    """Timeouts and retries of one adapter operation (all durations in seconds).

    Retries happen only when ``safe_to_retry`` (a lookup, a status query; never a
    payment creation), with full-jitter exponential backoff capped at
    ``backoff_max``, and only while the whole call fits in ``deadline``.
    """

    per_try_timeout: float = Field(default=5.0, gt=0)
    deadline: float = Field(default=15.0, gt=0)
    safe_to_retry: bool = False
    max_attempts: int = Field(default=3, ge=1)
    backoff_initial: float = Field(default=0.2, gt=0)
    backoff_max: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _backoff_cap_covers_initial(self) -> OperationPolicy:
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be at least backoff_initial")
        return self


class BreakerConfig(_Strict):
    """Open when at least ``failure_rate`` of the calls in the last ``window_seconds`` failed.

    The rate is judged only once the window holds ``min_calls`` calls. The breaker
    stays open ``open_seconds``, then lets ``half_open_max_calls`` probes through;
    if all succeed it closes, if one fails it opens again.
    """

    window_seconds: float = Field(default=30.0, gt=0)
    min_calls: int = Field(default=10, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    open_seconds: float = Field(default=30.0, gt=0)
    half_open_max_calls: int = Field(default=3, ge=1)


class BulkheadConfig(_Strict):
    """At most ``max_concurrent`` calls in flight; a caller waits at most ``max_wait`` s."""

    max_concurrent: int = Field(default=20, ge=1)
    max_wait: float = Field(default=1.0, ge=0)


class QuotaConfig(_Strict):
    """The national system's rate limit for the whole city (token bucket)."""

    rate_per_second: float = Field(default=20.0, gt=0)
    burst: float = Field(default=40.0, gt=0)


class RetryBudgetConfig(_Strict):
    """Retries allowed in a window: ``ratio`` × calls + ``min_retries_per_second`` × window."""

    ratio: float = Field(default=0.2, ge=0)
    min_retries_per_second: float = Field(default=1.0, ge=0)
    window_seconds: float = Field(default=10.0, gt=0)


class UpstreamResilience(_Strict):
    """Everything the guard of one upstream needs."""

    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    bulkhead: BulkheadConfig = Field(default_factory=BulkheadConfig)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    retry_budget: RetryBudgetConfig = Field(default_factory=RetryBudgetConfig)
    default_operation: OperationPolicy = Field(default_factory=OperationPolicy)
    operations: dict[str, OperationPolicy] = Field(default_factory=dict)

    def policy_for(self, operation: str) -> OperationPolicy:
        """The operation's own policy, or the upstream's default one."""
        return self.operations.get(operation, self.default_operation)
