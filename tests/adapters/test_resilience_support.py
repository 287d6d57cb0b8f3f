"""Fake time shared by the resilience tests: a clock and a sleep that only moves it."""

from __future__ import annotations

import asyncio


class FakeTime:
    """A monotonic clock that moves only when told to, or when something sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_fake_sleep_moves_the_clock_without_waiting() -> None:
    """The fake sleep records the wait and advances the fake clock by it."""
    fake = FakeTime()
    await fake.sleep(30.0)
    assert fake.clock() == 1030.0
    assert fake.sleeps == [30.0]
