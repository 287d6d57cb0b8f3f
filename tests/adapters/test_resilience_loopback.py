"""The guard composed with real I/O: an aiohttp peer on loopback that fails, then recovers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.errors import UpstreamConnectionError, UpstreamFault, UpstreamTimeout
from adapters.http import make_session
from adapters.resilience import BreakerState, UpstreamGuard, UpstreamResilience, last_attempts
from tests.adapters.test_resilience_support import FakeTime

OPERATION = "chiTietDoanhNghiep"


class FlakyPeer:
    """A business-registry stand-in: 503 for the first ``failures`` requests, then a record."""

    def __init__(self, failures: int, hang: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.hang:
            await asyncio.sleep(3600)
        if self.hits <= self.failures:
            return web.Response(status=503, text="busy")
        return web.json_response({"Data": {"MainInformation": {"NAME": "CONG TY A"}}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/apiCSDLDKDN/1.0/chiTietDoanhNghiep", self.handle)
        return app


async def _fetch(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    """One attempt as an adapter would write it: map the wire to the adapter error tree."""
    try:
        async with session.get(url, params={"msdn": "0100233488"}) as response:
            if response.status >= 500:
                raise UpstreamFault(f"HTTP {response.status}", code=str(response.status))
            body = await response.json()
    except aiohttp.ClientConnectionError as exc:
        raise UpstreamConnectionError("connection failed") from exc
    assert isinstance(body, dict)
    return body


def _guard(**operation: object) -> UpstreamGuard:
    fake = FakeTime()
    config = UpstreamResilience.model_validate(
        {
            "breaker": {"min_calls": 20},
            "operations": {
                OPERATION: {
                    "safe_to_retry": True,
                    "max_attempts": 5,
                    "per_try_timeout_seconds": 5,
                    "deadline_seconds": 20,
                    **operation,
                }
            },
        }
    )
    return UpstreamGuard("business", config, sleep=fake.sleep)


async def test_guard_retries_a_real_peer_until_it_answers() -> None:
    """Three 503s from a loopback peer are retried; the fourth attempt returns the record."""
    peer = FlakyPeer(failures=3)
    guard = _guard()
    async with TestServer(peer.app(), host="127.0.0.1") as server, make_session() as session:
        url = str(server.make_url("/apiCSDLDKDN/1.0/chiTietDoanhNghiep"))
        async with asyncio.timeout(20):  # did not hang
            body = await guard.call(OPERATION, lambda: _fetch(session, url))
    assert body == {"Data": {"MainInformation": {"NAME": "CONG TY A"}}}
    assert peer.hits == 4
    assert last_attempts() == 4
    assert guard.state is BreakerState.CLOSED


async def test_guard_cuts_a_hanging_real_peer() -> None:
    """A loopback peer that never answers is cut by the per-try timeout on every attempt."""
    peer = FlakyPeer(failures=0, hang=True)
    guard = _guard(per_try_timeout_seconds=0.05, max_attempts=2)
    async with TestServer(peer.app(), host="127.0.0.1") as server, make_session() as session:
        url = str(server.make_url("/apiCSDLDKDN/1.0/chiTietDoanhNghiep"))
        async with asyncio.timeout(20):  # did not hang
            with pytest.raises(UpstreamTimeout) as timed_out:
                await guard.call(OPERATION, lambda: _fetch(session, url))
    assert timed_out.value.upstream == "business"
    assert peer.hits == 2
