"""The one exponential backoff (adapters/backoff.py): its ceiling and the full jitter under it."""

from __future__ import annotations

import math

import pytest

from adapters.backoff import backoff_ceiling, full_jitter


def test_the_ceiling_doubles_from_initial_up_to_the_maximum() -> None:
    """After attempt n: initial × 2^(n-1), never above the maximum, never overflowing."""
    assert [backoff_ceiling(5.0, 3600.0, n) for n in range(1, 6)] == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert backoff_ceiling(5.0, 3600.0, 20) == 3600.0
    assert backoff_ceiling(1.0, math.inf, 10_000) == 2.0**62


def test_full_jitter_scales_the_draw_to_the_ceiling() -> None:
    """The wait is the [0, 1) draw times the ceiling: 0 at the bottom, the ceiling at the top."""
    assert full_jitter(0.5, 1.5, 3, lambda: 0.0) == 0.0
    assert full_jitter(0.5, 1.5, 3, lambda: 0.5) == pytest.approx(0.75)
    assert full_jitter(0.5, 1.5, 3, lambda: 1.0) == 1.5
