"""The shared resilience policy of every adapter.

Declare an :class:`UpstreamResilience` per national system in configuration,
build one :class:`UpstreamGuard` per upstream at start-up, and hand every
upstream call to ``guard.call(operation, attempt)``. The building blocks
(breaker, bulkhead, retry budget, quota, retry strategies) are exported for
tests and for the readiness report.
"""

from adapters.config import (
    BreakerConfig,
    BulkheadConfig,
    OperationPolicy,
    QuotaConfig,
    RetryBudgetConfig,
    UpstreamResilience,
)
from adapters.resilience.breaker import (
    BreakerPermit,
    BreakerState,
    CircuitBreaker,
)
from adapters.resilience.budget import RetryBudget
from adapters.resilience.bulkhead import Bulkhead
from adapters.resilience.guard import UpstreamGuard, last_attempts
from adapters.resilience.quota import TokenBucket
from adapters.resilience.retry import (
    FullJitterBackoff,
    RetryWhenSafe,
    StopWhenSpent,
    build_retrying,
)

__all__ = [
    "BreakerConfig",
    "BreakerPermit",
    "BreakerState",
    "Bulkhead",
    "BulkheadConfig",
    "CircuitBreaker",
    "FullJitterBackoff",
    "OperationPolicy",
    "QuotaConfig",
    "RetryBudget",
    "RetryBudgetConfig",
    "RetryWhenSafe",
    "StopWhenSpent",
    "TokenBucket",
    "UpstreamGuard",
    "UpstreamResilience",
    "build_retrying",
    "last_attempts",
]
