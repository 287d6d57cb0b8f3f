"""Each way the sandbox misbehaves becomes the right AdapterError, without leaking personal data."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.errors import (
    AdapterError,
    UpstreamBadReply,
    UpstreamConnectionError,
    UpstreamFault,
)
from adapters.observability import collect_exchanges
from adapters.population.models import CitizenQuery
from adapters.population.sandbox_config import Misbehaviour, PopulationSandboxConfig
from tests.support.gateway import serving

from .conftest import MakeClient, RunningSandbox, StartSandbox

KNOWN_ID = "092090001234"
KNOWN = CitizenQuery(id_number=KNOWN_ID, full_name="Nguyễn Văn An")


async def _misbehave(
    session: aiohttp.ClientSession, sandbox: RunningSandbox, **settings: Any
) -> None:
    async with session.post(sandbox.base_url + "/_admin/misbehaviour", json=settings) as resp:
        assert resp.status == 200


async def _failure(
    sandbox: RunningSandbox, make_client: MakeClient, **overrides: Any
) -> AdapterError:
    client = await make_client(sandbox.endpoint, **overrides)
    with pytest.raises(AdapterError) as caught:
        await asyncio.wait_for(client.lookup(KNOWN), timeout=20)  # "did not hang" bound
    error = caught.value
    for leak in (KNOWN_ID, "Nguyễn", "NGUYEN"):
        assert leak not in str(error)
        assert leak not in error.detail
    return error


@pytest.mark.parametrize(
    ("code", "server_side"), [("Client", False), ("Server", True)], ids=["client", "server"]
)
async def test_soap_fault_keeps_its_code_and_side(
    sandbox: RunningSandbox,
    make_client: MakeClient,
    session: aiohttp.ClientSession,
    code: str,
    server_side: bool,
) -> None:
    """A SOAP fault is UpstreamFault with the peer's code; only Server faults are server-side."""
    await _misbehave(session, sandbox, fault={"code": code, "string": f"{KNOWN_ID} lỗi"})
    exchanges = collect_exchanges()
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamFault)
    assert error.code == code
    assert error.retryable is server_side
    assert error.counts_as_failure is server_side
    assert [(e.outcome, e.fault_code) for e in exchanges] == [("fault", code)]


async def test_error_rate_one_answers_server_faults(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """error_rate=1 makes every call an HTTP 500 Server fault."""
    await _misbehave(session, sandbox, error_rate=1.0)
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamFault)
    assert error.code == "Server"
    assert error.retryable


async def test_error_rate_is_seeded(
    start_population_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """With error_rate 0.5 and a fixed seed the same calls fail on every run."""
    outcomes: list[list[bool]] = []
    for _ in range(2):
        sandbox = await start_population_sandbox(
            PopulationSandboxConfig(
                generated_citizens=0, misbehaviour=Misbehaviour(error_rate=0.5, seed=7)
            )
        )
        client = await make_client(sandbox.endpoint)
        run: list[bool] = []
        for _ in range(12):
            try:
                await client.lookup(KNOWN)
                run.append(True)
            except UpstreamFault:
                run.append(False)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert True in outcomes[0]
    assert False in outcomes[0]


async def test_xml_bomb_is_refused_unexpanded(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """A billion-laughs reply is UpstreamBadReply (DTD refused before parsing)."""
    await _misbehave(session, sandbox, xml_bomb=True)
    exchanges = collect_exchanges()
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamBadReply)
    assert "DTD" in error.detail
    assert exchanges[0].outcome == "bad_reply"


async def test_malformed_xml_is_a_bad_reply(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """Truncated XML is UpstreamBadReply."""
    await _misbehave(session, sandbox, malformed_xml=True)
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamBadReply)
    assert "well-formed" in error.detail


async def test_huge_response_stops_at_the_size_limit(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """A reply streamed past max_reply_bytes is refused by the limit, not buffered."""
    await _misbehave(session, sandbox, huge_response=4 * 1024 * 1024)
    error = await _failure(sandbox, make_client, max_reply_bytes=256 * 1024)
    assert isinstance(error, UpstreamBadReply)
    assert "262144-byte limit" in error.detail


async def test_dropped_connection_is_a_connection_error(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """The peer closing the connection without answering is UpstreamConnectionError."""
    await _misbehave(session, sandbox, drop_connection=True)
    exchanges = collect_exchanges()
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamConnectionError)
    assert exchanges[0].outcome == "error"


async def test_refused_connection_is_a_connection_error(make_client: MakeClient) -> None:
    """Nobody listening on the endpoint is UpstreamConnectionError."""
    sandbox = RunningSandbox("http://127.0.0.1:9", "http://127.0.0.1:9/dancu/ws")
    error = await _failure(sandbox, make_client)
    assert isinstance(error, UpstreamConnectionError)


async def test_latency_uses_the_injected_sleep(
    start_population_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """latency_ms delays the answer through the sandbox's sleep (no real waiting in tests)."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(generated_citizens=0, misbehaviour=Misbehaviour(latency_ms=1500)),
        sleep=fake_sleep,
    )
    client = await make_client(sandbox.endpoint)
    assert await client.lookup(KNOWN) is not None
    assert slept == [1.5]


async def test_http_500_without_fault_is_a_server_side_fault(
    start_population_sandbox: StartSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """An HTTP 5xx that carries no SOAP fault is a server-side UpstreamFault."""

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    app = web.Application()
    app.router.add_post("/dancu/ws", broken)
    async with serving(app) as base_url:
        error = await _failure(RunningSandbox(base_url, f"{base_url}/dancu/ws"), make_client)
    assert isinstance(error, UpstreamFault)
    assert error.counts_as_failure


async def test_reset_restores_good_behaviour(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """POST /_admin/reset undoes misbehaviour set through the admin endpoint."""
    await _misbehave(session, sandbox, malformed_xml=True)
    async with session.post(sandbox.base_url + "/_admin/reset") as resp:
        assert resp.status == 200
    client = await make_client(sandbox.endpoint)
    assert await client.lookup(KNOWN) is not None


async def test_admin_rejects_unknown_settings(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """The admin endpoint validates its JSON (extra keys and bad rates refused)."""
    for bad in ({"error_rate": 2}, {"explode": True}):
        async with session.post(sandbox.base_url + "/_admin/misbehaviour", json=bad) as resp:
            assert resp.status == 400
