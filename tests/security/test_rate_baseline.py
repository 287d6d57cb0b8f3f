"""The volume detector's baseline, counted incrementally, against a full recount per request."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.security.windows import RateBaseline


class Recount:
    """The baseline as first written: every request drops stale windows and re-sums the rest."""

    def __init__(self, window: float, baseline: float) -> None:
        self.window = window
        self.periods = max(1, round(baseline / window))
        self.counts: dict[int, int] = {}

    def add(self, now: float) -> tuple[int, float]:
        period = int(now // self.window)
        self.counts[period] = self.counts.get(period, 0) + 1
        oldest = period - self.periods
        for stale in [p for p in self.counts if p < oldest]:
            del self.counts[stale]
        previous = sum(c for p, c in self.counts.items() if p < period)
        return self.counts[period], previous / self.periods


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([(1.0, 5.0), (2.0, 3.0), (60.0, 3600.0), (0.5, 0.1)]),
    st.lists(st.floats(0, 40, allow_nan=False), max_size=60),
    st.booleans(),
)
def test_same_counts_as_a_full_recount(
    shape: tuple[float, float], times: list[float], in_order: bool
) -> None:
    """Same (current, usual) on every request, in time order or not (a clock may step back)."""
    window, baseline = shape
    fast, slow = RateBaseline(window, baseline), Recount(window, baseline)
    for now in sorted(times) if in_order else times:
        assert fast.add(now) == slow.add(now)
