"""What every scenario shares: its report, its load shapes and the signed-request factory.

A scenario is a function ``(BenchStack) -> ScenarioReport`` registered in
:data:`bench.scenarios.SCENARIOS`; the modules that define scenarios import
their building blocks from here (and never from :mod:`bench.scenarios`, which
imports them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.figures import Check, Comparison, Figures
from bench.loadgen import ClosedLoop, OpenLoop
from bench.stack import BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BenchStack
from bench.targets import SignedRequests


@dataclass
class ScenarioReport:
    """Everything one scenario measured, compared, checked and noticed."""

    name: str
    title: str
    figures: list[Figures] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    #: Tables printed under the comparisons as they are (the verification's stage table).
    tables: list[list[str]] = field(default_factory=list)
    #: More for the JSON file (the stage samples).
    extra: dict[str, Any] = field(default_factory=dict)
    #: What the throughput column counts (a figure's ``per_second``).
    unit: str = "req/s"

    def find(self, target: str, mode: str) -> Figures | None:
        return next((f for f in self.figures if f.target == target and f.mode == mode), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "unit": self.unit,
            "figures": [f.as_json() for f in self.figures],
            "comparisons": [c.as_json() for c in self.comparisons],
            "checks": [c.as_json() for c in self.checks],
            "notes": self.notes,
            "tables": self.tables,
            **self.extra,
        }


Scenario = Callable[[BenchStack], ScenarioReport]


def saturation(stack: BenchStack) -> ClosedLoop:
    """The closed loop of the run's settings (``workers`` callers back to back)."""
    s = stack.settings
    return ClosedLoop(workers=s.workers, duration=s.duration, max_requests=s.max_requests)


def fixed_rate(stack: BenchStack, rate: float) -> OpenLoop:
    """``rate`` requests a second, for the run's duration or ``max_requests``, whichever first."""
    s = stack.settings
    duration = min(s.duration, s.max_requests / rate)
    return OpenLoop(rate=rate, duration=duration)


def signed(
    method: str,
    urls: list[str],
    bodies: list[bytes],
    *,
    distinct: bool = False,
    content_type: str | None = "application/json",
) -> SignedRequests:
    """Requests to the gateway signed as the bench client."""
    return SignedRequests(
        method,
        tuple(urls),
        tuple(bodies),
        BENCH_CLIENT_ID,
        BENCH_CLIENT_SECRET,
        content_type=content_type,
        distinct=distinct,
    )
