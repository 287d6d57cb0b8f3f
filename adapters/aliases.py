"""The shapes the project injects everywhere, named once, and the one Vietnam time zone.

``adapters`` never imports ``gateway``, so the aliases both sides share live
here; the gateway imports them from this module (the store keeps its own
one-line ``Clock``, because the store imports nothing outside itself).

* :data:`Monotonic` — a monotonic clock in seconds (``time.monotonic``).
* :data:`WallClock` — the wall clock as an aware ``datetime`` (UTC).
* :data:`Sleep` — ``asyncio.sleep`` or a fake that only records.
* :data:`Handler` / :data:`Middleware` — aiohttp's request handler and new-style middleware.
* :data:`VIETNAM_TZ` — UTC+7: Vietnam has one time zone and no daylight saving
  (``Asia/Ho_Chi_Minh`` has been UTC+7 since 1975), so a fixed offset is exact
  and needs no tz database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from aiohttp import web

Monotonic = Callable[[], float]
WallClock = Callable[[], dt.datetime]
Sleep = Callable[[float], Awaitable[None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

#: Indochina Time, UTC+7: every Vietnamese local date and time the project shows or reads.
VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")

__all__ = ["VIETNAM_TZ", "Handler", "Middleware", "Monotonic", "Sleep", "WallClock"]
