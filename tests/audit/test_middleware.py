"""The audit middleware over a real aiohttp app on loopback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from adapters.observability import UpstreamExchange, collect_exchanges, record_exchange
from gateway.audit.log import AuditLog
from gateway.audit.middleware import audit_middleware
from gateway.auth.config import ClientConfig
from gateway.auth.keys import CLIENT, REQUEST_BODY
from gateway.http.boundary import problem_middleware
from gateway.http.context import UPSTREAM_EXCHANGES, request_context_middleware
from gateway.problems import BadRequest

from .conftest import CITIZEN_ID, CITIZEN_NAME, verify


@web.middleware
async def exchanges_on_request(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Stand-in for the lead's one line in request_context_middleware."""
    request[UPSTREAM_EXCHANGES] = collect_exchanges()
    return await handler(request)


@web.middleware
async def fake_authentication(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Stand-in for authentication: the client and the body, under the real keys."""
    request[REQUEST_BODY] = await request.read()
    request[CLIENT] = ClientConfig(id="one-stop", operations=["*"])
    return await handler(request)


async def verify_citizen(request: web.Request) -> web.Response:
    body = json.loads(request[REQUEST_BODY])
    if "id_number" not in body:
        raise BadRequest("id_number is required")
    record_exchange(
        UpstreamExchange(
            upstream="population",
            operation="TraCuuThongTinCongDan",
            request_out=1.0,
            response_in=1.2,
            bytes_out=900,
            bytes_in=1200,
            extra={"request_digest": "a" * 64, "response_digest": "b" * 64},
        )
    )
    return web.json_response({"verdict": "match", "full_name": "match"})


@pytest.fixture
async def gateway(audit_log: AuditLog) -> AsyncIterator[TestServer]:
    """A small gateway app with the audit middleware where the lead places it."""
    app = web.Application(
        middlewares=[
            request_context_middleware,
            exchanges_on_request,
            audit_middleware(audit_log),
            problem_middleware,
            fake_authentication,
        ]
    )
    app.router.add_post("/v1/citizens/verify", verify_citizen, name="citizens.verify")
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server
    await server.close()


async def test_one_inbound_record_matches_the_bodies_with_its_exchange_folded_in(
    gateway: TestServer, audit_log: AuditLog
) -> None:
    """One inbound record with the bodies' digests, the upstream exchange in its detail."""
    sent = json.dumps(
        {"id_number": CITIZEN_ID, "full_name": CITIZEN_NAME, "birth_date": "1985-01-02"},
        ensure_ascii=False,
    ).encode()
    with capture_logs() as logs:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                gateway.make_url("/v1/citizens/verify"),
                data=sent,
                headers={"Content-Type": "application/json", "X-Request-ID": "req-42"},
            ) as resp,
        ):
            received = await resp.read()
            assert resp.status == 200
    rows = await audit_log.store.fetch_all("SELECT * FROM audit_records ORDER BY seq")
    (inbound,) = rows
    assert inbound["kind"] == "inbound"
    assert inbound["operation"] == "citizens.verify"
    assert inbound["client_id"] == "one-stop"
    assert inbound["request_id"] == "req-42"
    assert inbound["status"] == 200
    assert inbound["request_digest"] == hashlib.sha256(sent).hexdigest()
    assert inbound["response_digest"] == hashlib.sha256(received).hexdigest()
    assert json.loads(inbound["subject_digests"]) == [audit_log.subject_digest(CITIZEN_ID)]
    detail = json.loads(inbound["detail"])
    (upstream,) = detail["upstream"]
    assert upstream == {
        "operation": "population.TraCuuThongTinCongDan",
        "outcome": "ok",
        "attempts": 1,
        "fault_code": None,
        "bytes_out": 900,
        "bytes_in": 1200,
        "duration_ms": 200.0,
        "request_digest": "a" * 64,
        "response_digest": "b" * 64,
        "trace_id": detail["trace_id"],  # the request's, which the exchange was sent in
    }
    everything = json.dumps(rows, ensure_ascii=False) + json.dumps(logs, ensure_ascii=False)
    assert CITIZEN_ID not in everything
    assert CITIZEN_NAME not in everything
    assert (await verify(audit_log)).ok


async def test_rejected_requests_are_audited_with_their_problem(
    gateway: TestServer, audit_log: AuditLog
) -> None:
    """A request answered with problem+json is recorded as rejected with that answer's digest."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway.make_url("/v1/citizens/verify"), json={"full_name": CITIZEN_NAME}
        ) as resp,
    ):
        received = await resp.read()
        assert resp.status == 400
    rows = await audit_log.store.fetch_all("SELECT * FROM audit_records")
    assert [(r["kind"], r["outcome"], r["status"]) for r in rows] == [("inbound", "rejected", 400)]
    assert rows[0]["response_digest"] == hashlib.sha256(received).hexdigest()
    assert json.loads(rows[0]["subject_digests"]) == []
