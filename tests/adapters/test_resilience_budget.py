"""The retry budget: retries ≤ ratio × recent calls + a floor."""

from __future__ import annotations

from adapters.resilience import RetryBudget, RetryBudgetConfig
from tests.adapters.test_resilience_support import FakeTime


def test_floor_allows_a_few_retries_without_traffic() -> None:
    """With no calls, min_retries_per_second × window retries are allowed, then none."""
    fake = FakeTime()
    budget = RetryBudget(
        RetryBudgetConfig(ratio=0.5, min_retries_per_second=0.2, window_seconds=10),
        clock=fake.clock,
    )
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]


def test_ratio_grows_the_budget_with_calls() -> None:
    """Ten calls at ratio 0.5 (no floor) earn exactly five retries."""
    fake = FakeTime()
    budget = RetryBudget(
        RetryBudgetConfig(ratio=0.5, min_retries_per_second=0, window_seconds=10),
        clock=fake.clock,
    )
    for _ in range(10):
        budget.record_call()
    spent = [budget.try_spend() for _ in range(7)]
    assert spent.count(True) == 5
    assert spent[-1] is False
    assert budget.remaining == 0


def test_budget_refills_as_the_window_slides() -> None:
    """Retries spent more than a window ago no longer count."""
    fake = FakeTime()
    budget = RetryBudget(
        RetryBudgetConfig(ratio=0, min_retries_per_second=0.1, window_seconds=10),
        clock=fake.clock,
    )
    assert budget.try_spend()
    assert not budget.try_spend()
    fake.advance(10.5)
    assert budget.try_spend()
