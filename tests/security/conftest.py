"""Security fixtures: the fake clock the detectors read, captured alerts, a fresh SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.security.config import SecurityConfig
from gateway.security.detectors import SecurityAlert, SecurityMonitor
from gateway.store import Store, StoreConfig, open_store
from tests.support.clock import FakeClock

WALL = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def ticks() -> FakeClock:
    """The detectors' injected clock (read as monotonic seconds)."""
    return FakeClock(1000.0)


@pytest.fixture
def alerts() -> list[SecurityAlert]:
    """Alerts raised during the test, in order."""
    return []


@pytest.fixture
def make_monitor(
    ticks: FakeClock, alerts: list[SecurityAlert]
) -> Iterator[Callable[[SecurityConfig], SecurityMonitor]]:
    """Builds an attached monitor (detached after the test) that records its alerts."""
    made: list[SecurityMonitor] = []

    def build(config: SecurityConfig) -> SecurityMonitor:
        monitor = SecurityMonitor(config, monotonic=ticks.monotonic, wall_clock=lambda: WALL)
        monitor.add_sink(alerts.append)
        monitor.attach()
        made.append(monitor)
        return monitor

    yield build
    for monitor in made:
        monitor.detach()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite store."""
    opened = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/sec.db"), clock=lambda: WALL)
    yield opened
    await opened.close()
