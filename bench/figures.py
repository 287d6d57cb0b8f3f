"""What one measured run yields, and how two runs compare against a target."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bench.loadgen import LoadResult


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (NaN when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Figures:
    """One run of one target: throughput, latency and the CPU time each server spent per request."""

    scenario: str
    target: str
    mode: str
    requests: int
    errors: dict[str, int]
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    #: Server process name → CPU milliseconds (user + system) per answered request.
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    #: Server process name → bytes its log grew by per answered request.
    log_bytes_per_request: dict[str, float] = field(default_factory=dict)
    #: Open loop only: the latest the load generator started a request behind schedule (ms).
    max_start_lag_ms: float = 0.0
    #: Open loop only: p99 counted from each request's scheduled start (NaN for closed loops).
    p99_from_schedule_ms: float = math.nan

    @classmethod
    def from_result(
        cls,
        scenario: str,
        target: str,
        mode: str,
        result: LoadResult,
        cpu_seconds: dict[str, float],
        log_bytes: dict[str, int],
    ) -> Figures:
        latencies = sorted(result.latencies)
        answered = max(result.ok, 1)
        return cls(
            scenario=scenario,
            target=target,
            mode=mode,
            requests=result.ok,
            errors=dict(result.errors),
            seconds=result.elapsed,
            per_second=result.ok / result.elapsed if result.elapsed > 0 else math.nan,
            p50_ms=percentile(latencies, 0.50) * 1000,
            p99_ms=percentile(latencies, 0.99) * 1000,
            cpu_ms_per_request={k: v * 1000 / answered for k, v in cpu_seconds.items()},
            log_bytes_per_request={k: v / answered for k, v in log_bytes.items()},
            max_start_lag_ms=result.max_start_lag * 1000,
            p99_from_schedule_ms=percentile(sorted(result.latencies_from_schedule), 0.99) * 1000,
        )

    def cpu_ms(self, server: str) -> float:
        return self.cpu_ms_per_request.get(server, math.nan)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


Verdict = Literal["PASS", "MISS", ""]


@dataclass(frozen=True)
class Comparison:
    """A ratio or difference between two runs, beside the project's target when there is one."""

    label: str
    value: float
    unit: str
    target: str = ""
    verdict: Verdict = ""

    @classmethod
    def at_most(cls, label: str, value: float, limit: float, unit: str) -> Comparison:
        """PASS when ``value`` ≤ ``limit`` (NaN is a MISS: nothing was measured)."""
        verdict: Verdict = "PASS" if value <= limit else "MISS"
        return cls(label, value, unit, f"<= {limit:g}{unit}", verdict)

    @classmethod
    def below(cls, label: str, value: float, limit: float, unit: str) -> Comparison:
        """PASS when ``value`` < ``limit``."""
        verdict: Verdict = "PASS" if value < limit else "MISS"
        return cls(label, value, unit, f"< {limit:g} {unit}", verdict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero or not a number."""
    if not denominator or math.isnan(denominator):
        return math.nan
    return numerator / denominator


@dataclass(frozen=True)
class Check:
    """A correctness check a scenario ran after measuring (not a timing: PASS or FAIL)."""

    label: str
    passed: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
