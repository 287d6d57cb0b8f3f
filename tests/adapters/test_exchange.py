"""The one upstream-exchange helper (adapters/observability.py): tally, outcome, tags, record.

Each test is async so that its collection of exchanges stays in its own task's context.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from adapters.errors import (
    CircuitOpen,
    UpstreamBadReply,
    UpstreamConnectionError,
    UpstreamFault,
    UpstreamTimeout,
)
from adapters.observability import (
    ExchangeTally,
    collect_exchanges,
    map_aiohttp_errors,
    upstream_exchange,
)
from tests.support.clock import FakeClock


def _busy_lookup(tallies: list[ExchangeTally]) -> None:
    ticks = FakeClock(1_000.0, tick=1.0)  # a wall clock moving one second per reading
    with upstream_exchange("population", "lookup", clock=ticks.time) as tally:
        tallies.append(tally)
        tally.attempts, tally.bytes_out, tally.bytes_in = 2, 300, 40
        raise UpstreamFault("busy", code="Server.Busy")


def _ending_in(raised: BaseException) -> None:
    with upstream_exchange("business", "chiTietDoanhNghiep"):
        raise raised


def _attempt(raised: BaseException, failure_detail: str = "{error}") -> None:
    where = {"upstream": "vnpay", "operation": "query", "url": "https://127.0.0.1:1/q"}
    with map_aiohttp_errors(
        **where, timeout_detail="no reply within 5 s", failure_detail=failure_detail
    ):
        raise raised


async def test_a_failed_call_is_recorded_once_tagged_with_its_fault_code() -> None:
    """Attempts, bytes, outcome and fault code of all attempts; the error names its upstream."""
    exchanges = collect_exchanges()
    tallies: list[ExchangeTally] = []
    with pytest.raises(UpstreamFault) as caught:
        _busy_lookup(tallies)
    assert (caught.value.upstream, caught.value.operation) == ("population", "lookup")
    [exchange] = exchanges
    assert (exchange.upstream, exchange.operation, exchange.outcome) == (
        "population",
        "lookup",
        "fault",
    )
    assert (exchange.attempts, exchange.bytes_out, exchange.bytes_in) == (2, 300, 40)
    assert exchange.fault_code == "Server.Busy"
    assert exchange.duration_ms == 1000.0
    assert tallies[0].exchange is exchange


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (CircuitOpen("open", retry_after=5), "circuit_open"),
        (UpstreamTimeout("slow"), "timeout"),
        (TimeoutError(), "timeout"),
        (UpstreamBadReply("not JSON"), "bad_reply"),
        (UpstreamConnectionError("refused"), "error"),
        (asyncio.CancelledError(), "error"),
    ],
)
async def test_the_outcome_names_how_the_call_ended(raised: BaseException, outcome: str) -> None:
    """One table of outcomes for every adapter (the quarterly report counts circuit_open)."""
    exchanges = collect_exchanges()
    with pytest.raises(type(raised)), upstream_exchange("business", "chiTietDoanhNghiep"):
        raise raised
    assert [e.outcome for e in exchanges] == [outcome]
    assert exchanges[0].attempts == 1


async def test_a_call_without_a_record_says_not_found() -> None:
    """The adapter's ``not_found`` stands; a call that counted no attempt still counts one."""
    exchanges = collect_exchanges()
    with upstream_exchange("business", "chiTietDoanhNghiep") as tally:
        tally.outcome = "not_found"
    assert [(e.outcome, e.attempts) for e in exchanges] == [("not_found", 1)]


async def test_aiohttp_failures_become_the_adapter_tree_without_the_peer_s_words() -> None:
    """A timeout is UpstreamTimeout; a failed connection names the class, not the message."""
    with pytest.raises(UpstreamTimeout) as timeout:
        _attempt(TimeoutError())
    peer_said = aiohttp.ClientConnectionError("peer said 092090001234")
    with pytest.raises(UpstreamConnectionError) as failed:
        _attempt(peer_said, "query failed: {error}")
    assert (timeout.value.detail, timeout.value.upstream) == ("no reply within 5 s", "vnpay")
    assert failed.value.detail == "query failed: ClientConnectionError"
    assert (failed.value.operation, failed.value.url) == ("query", "https://127.0.0.1:1/q")


async def test_an_adapter_error_raised_inside_an_attempt_is_tagged() -> None:
    """A bounded read's UpstreamBadReply leaves the attempt naming its upstream and operation."""
    with pytest.raises(UpstreamBadReply) as caught:
        _attempt(UpstreamBadReply("reply exceeds the 1024-byte limit"))
    assert (caught.value.upstream, caught.value.operation) == ("vnpay", "query")
