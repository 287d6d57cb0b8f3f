"""The bulkhead: at most max_concurrent calls in flight, a bounded wait, first come first served."""

from __future__ import annotations

import asyncio

import pytest

from adapters.errors import BulkheadFull
from adapters.resilience import Bulkhead, BulkheadConfig


async def test_limits_calls_in_flight() -> None:
    """Twenty tasks through a bulkhead of three never have more than three inside."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=3, max_wait_seconds=5))
    inside = peak = 0

    async def work() -> None:
        nonlocal inside, peak
        async with bulkhead.slot():
            inside += 1
            peak = max(peak, inside)
            for _ in range(3):
                await asyncio.sleep(0)
            inside -= 1

    async with asyncio.timeout(10):
        await asyncio.gather(*(work() for _ in range(20)))
    assert peak == 3
    assert bulkhead.in_flight == 0
    assert bulkhead.waiting == 0


async def test_refuses_after_max_wait() -> None:
    """A caller that waits max_wait without a slot gets BulkheadFull with a Retry-After."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=1, max_wait_seconds=0.02))
    await bulkhead.acquire()
    with pytest.raises(BulkheadFull) as refused:
        await bulkhead.acquire(operation="chiTietDoanhNghiep")
    assert refused.value.retry_after > 0
    assert refused.value.upstream == "business"
    assert refused.value.operation == "chiTietDoanhNghiep"
    assert bulkhead.waiting == 0
    assert bulkhead.in_flight == 1


async def test_no_wait_refuses_at_once() -> None:
    """With max_wait 0 a full bulkhead refuses without waiting."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=1, max_wait_seconds=0))
    await bulkhead.acquire()
    with pytest.raises(BulkheadFull):
        await bulkhead.acquire()


async def test_freed_slot_goes_to_the_first_waiter() -> None:
    """Waiters get slots in arrival order; a newcomer does not jump the line."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=1, max_wait_seconds=5))
    order: list[str] = []
    await bulkhead.acquire()

    async def waiter(name: str) -> None:
        await bulkhead.acquire()
        order.append(name)
        bulkhead.release()

    first = asyncio.create_task(waiter("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter("second"))
    await asyncio.sleep(0)
    assert bulkhead.waiting == 2
    bulkhead.release()
    async with asyncio.timeout(5):
        await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert bulkhead.in_flight == 0


async def test_cancelled_waiter_leaks_no_slot() -> None:
    """A waiter cancelled in line leaves the line; the slot count stays right."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=1, max_wait_seconds=5))
    await bulkhead.acquire()
    waiting = asyncio.create_task(bulkhead.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bulkhead.waiting == 0
    bulkhead.release()
    assert bulkhead.in_flight == 0
    await bulkhead.acquire()
    assert bulkhead.in_flight == 1


async def test_slot_handed_over_as_the_waiter_gives_up_is_passed_on() -> None:
    """A slot that reaches a waiter in the same instant it is cancelled is not lost."""
    bulkhead = Bulkhead("business", BulkheadConfig(max_concurrent=1, max_wait_seconds=5))
    await bulkhead.acquire()
    waiting = asyncio.create_task(bulkhead.acquire())
    await asyncio.sleep(0)
    bulkhead.release()  # hands the slot to the waiter…
    waiting.cancel()  # …which is cancelled before it wakes up
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bulkhead.in_flight == 0
    assert bulkhead.waiting == 0
