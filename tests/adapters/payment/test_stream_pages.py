"""``stream_pages``: the next page asked for while this one is read, never more than one ahead."""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.errors import UpstreamTimeout
from adapters.payment.base import ProviderStatus, Transaction, stream_pages

ROWS = 1_000


def _row(raw: Any) -> Transaction:
    return Transaction(str(raw), None, 1, ProviderStatus.PAID, None)


class Pages:
    """Three pages of ``ROWS`` rows; records which page was asked for while which was read."""

    def __init__(self, *, time_out_once: int | None = None) -> None:
        self.asked: list[int] = []
        #: Rows the consumer has taken so far.
        self.read_up_to = 0
        self.asked_while_reading: dict[int, int] = {}
        self._time_out_once = time_out_once

    async def fetch(self, page: int) -> tuple[list[Any], int]:
        self.asked.append(page)
        self.asked_while_reading[page] = self.read_up_to
        await asyncio.sleep(0)
        if page == self._time_out_once:
            self._time_out_once = None
            raise UpstreamTimeout("slow", upstream="test", operation="list_transactions")
        return [f"{page}-{i}" for i in range(ROWS)], 3


async def test_the_next_page_is_asked_for_while_this_one_is_read() -> None:
    pages = Pages()
    seen = []
    async for row in stream_pages(pages.fetch, _row):
        seen.append(row.reference)
        pages.read_up_to = len(seen)
    assert seen == [f"{p}-{i}" for p in (1, 2, 3) for i in range(ROWS)]
    assert pages.asked == [1, 2, 3]
    # Page n + 1 is asked for while page n is being read: one page ahead, never two.
    assert 0 < pages.asked_while_reading[2] < ROWS
    assert ROWS < pages.asked_while_reading[3] < 2 * ROWS


async def test_a_consumer_that_stops_cancels_the_page_ahead() -> None:
    pages = Pages()
    rows = stream_pages(pages.fetch, _row)
    async for row in rows:
        if row.reference == "1-500":
            break
    await rows.aclose()
    await asyncio.sleep(0)
    assert pages.asked == [1, 2]
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in tasks if "fetch" in repr(t.get_coro())]


async def test_a_page_ahead_that_timed_out_is_asked_for_once_more() -> None:
    pages = Pages(time_out_once=2)
    seen = [row.reference async for row in stream_pages(pages.fetch, _row)]
    assert len(seen) == 3 * ROWS
    assert pages.asked == [1, 2, 2, 3]
