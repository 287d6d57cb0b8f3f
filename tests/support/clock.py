"""The suite's one fake clock: time moves only when a test moves it.

One timeline, read three ways, so that every injected clock of the code under test
can be fed from it:

- ``clock()`` is the UTC wall clock as an aware ``datetime`` (``gateway.store.base.Clock``:
  the store, the ledger, the audit log, the payment service and poller);
- ``clock.time()`` is the same instant as epoch seconds (``time.time``: signatures,
  nonces);
- ``clock.monotonic()`` is seconds on the same timeline (``time.monotonic``: caches,
  token buckets, OAuth tokens). Only differences between readings mean anything.

``advance`` moves it on, ``set`` puts it at an instant, ``await clock.sleep(s)`` is an
injectable ``asyncio.sleep`` that advances instead of waiting. A ``tick`` moves it on by
itself at every ``time()``/``monotonic()`` reading, for code that measures durations.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

#: 2026-03-01 09:00 in Vietnam, the suite's usual "now".
DEFAULT_START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(when: datetime | float) -> datetime:
    if isinstance(when, datetime):
        return when
    return _EPOCH + timedelta(seconds=when)


class FakeClock:
    """A settable clock: one UTC instant, read as a datetime, epoch or monotonic seconds."""

    def __init__(self, start: datetime | float = DEFAULT_START, *, tick: float = 0.0) -> None:
        self.now: datetime = _instant(start)
        self.tick = tick

    def __call__(self) -> datetime:
        """The wall clock: an aware UTC ``datetime``."""
        return self.now

    def time(self) -> float:
        """Epoch seconds, like ``time.time``."""
        if self.tick:
            self.advance(self.tick)
        return (self.now - _EPOCH) / timedelta(seconds=1)

    def monotonic(self) -> float:
        """Seconds on the same timeline, like ``time.monotonic``."""
        return self.time()

    def set(self, when: datetime | float) -> None:
        """Put the clock at ``when`` (a datetime, or epoch seconds)."""
        self.now = _instant(when)

    def advance(self, by: timedelta | float) -> None:
        """Move the clock on by ``by`` (a timedelta, or seconds)."""
        self.now += by if isinstance(by, timedelta) else timedelta(seconds=by)

    async def sleep(self, seconds: float) -> None:
        """An ``asyncio.sleep`` for injection: advances the clock, lets others run once."""
        self.advance(seconds)
        await asyncio.sleep(0)
