"""The period a report covers: a quarter (``2026-Q4``) or a span of days, in Vietnam time.

A quarter starts at 00:00 ICT (UTC+7) on its first day and ends at 00:00 ICT on
the first day of the next quarter; a span ``--from 2026-10-01 --to 2026-10-31``
covers both days whole. The weeks of a period are seven-day slices counted from
its first day (the last one may be shorter), each labelled with its dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from adapters.aliases import VIETNAM_TZ
from gateway.errors import InvalidValue
from gateway.store import to_us

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
#: Microseconds in a week (the weekly slices of the availability chart).
WEEK_US = 7 * 24 * 3600 * 1_000_000


class PeriodError(InvalidValue):
    """A period that does not parse (``2026-Q5``, ``--to`` before ``--from`` …)."""


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last`` (both included), named ``name`` in file names and URLs."""

    name: str
    first: date
    last: date

    @classmethod
    def quarter(cls, text: str) -> Period:
        """``2026-Q4`` → 2026-10-01 … 2026-12-31."""
        found = _QUARTER.match(text.strip())
        if found is None:
            raise PeriodError(f"{text!r} is not a quarter like 2026-Q4")
        year, q = int(found.group(1)), int(found.group(2))
        if year < 2000:
            raise PeriodError(f"{text!r}: the year must be 2000 or later")
        first = date(year, 3 * q - 2, 1)
        after = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
        return cls(f"{year}-Q{q}", first, after - timedelta(days=1))

    @classmethod
    def span(cls, first: date, last: date) -> Period:
        """The days ``first`` to ``last`` inclusive, named ``2026-10-01_2026-10-31``."""
        if last < first:
            raise PeriodError(f"the period ends ({last}) before it starts ({first})")
        return cls(f"{first.isoformat()}_{last.isoformat()}", first, last)

    @property
    def start(self) -> datetime:
        """00:00 Vietnam time on the first day."""
        return datetime.combine(self.first, time(0), VIETNAM_TZ)

    @property
    def end(self) -> datetime:
        """00:00 Vietnam time on the day after the last (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), VIETNAM_TZ)

    @property
    def start_us(self) -> int:
        return to_us(self.start)

    @property
    def end_us(self) -> int:
        return to_us(self.end)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def weeks(self) -> list[tuple[date, date]]:
        """The first and last day of each seven-day slice of the period."""
        out: list[tuple[date, date]] = []
        day = self.first
        while day <= self.last:
            out.append((day, min(day + timedelta(days=6), self.last)))
            day += timedelta(days=7)
        return out

    def is_future(self, now: datetime) -> bool:
        """Whether the period has not started yet at ``now``."""
        return self.start > now

    def is_complete(self, now: datetime) -> bool:
        return self.end <= now
