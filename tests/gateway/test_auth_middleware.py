"""The auth middlewares on a real aiohttp app over loopback: signatures, rights, limits, bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from structlog.testing import capture_logs

from gateway.auth.clients import ClientRegistry
from gateway.auth.config import ClientConfig
from gateway.auth.keys import AUTH_METHOD, CLIENT
from gateway.auth.middleware import (
    authentication_middleware,
    authorization_middleware,
    parse_json_body,
    rate_limit_middleware,
)
from gateway.auth.nonces import InMemoryNonceStore
from gateway.auth.signatures import sign_request
from gateway.problems import PROBLEM_BASE, Problem
from tests.support.clock import FakeClock
from tests.support.gateway import serving

NOW = 1_800_000_000.0
MOTCUA_OLD = "motcua-demo-old-secret"
MOTCUA_NEW = "motcua-demo-secret-change-me"
PORTAL = "portal-demo-secret-change-me"
TIGHT = "tight-demo-secret"
MAX_BODY = 1024


def demo_registry() -> ClientRegistry:
    return ClientRegistry(
        [
            ClientConfig(
                id="motcua-demo",
                secrets=[MOTCUA_OLD, MOTCUA_NEW],  # type: ignore[list-item]
                operations=["test.echo", "test.items"],
            ),
            ClientConfig(
                id="portal-demo",
                secrets=[PORTAL],  # type: ignore[list-item]
                operations=["test.items"],
            ),
            ClientConfig(
                id="tight-demo",
                secrets=[TIGHT],  # type: ignore[list-item]
                operations=["*"],
                rate_per_second=1.0,
                burst=2.0,
            ),
        ]
    )


@web.middleware
async def problems_to_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stand-in for the lead's problem middleware."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.to_response()


async def echo(request: web.Request) -> web.Response:
    data = await parse_json_body(request)
    client = request[CLIENT]
    return web.json_response(
        {"client": client.id, "auth_method": request[AUTH_METHOD], "data": data}
    )


async def items(request: web.Request) -> web.Response:
    client = request[CLIENT]
    return web.json_response({"client": client.id, "auth_method": request[AUTH_METHOD]})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(
    registry: ClientRegistry,
    *,
    clock: Callable[[], float],
    rate_clock: Callable[[], float],
    max_body_bytes: int = MAX_BODY,
) -> web.Application:
    """An app with the three auth middlewares and a few named routes."""
    app = web.Application(
        middlewares=[
            problems_to_responses,
            authentication_middleware(
                registry,
                InMemoryNonceStore(clock=clock),
                window=300.0,
                max_body_bytes=max_body_bytes,
                clock=clock,
            ),
            authorization_middleware(),
            rate_limit_middleware(rate_clock),
        ]
    )
    app.router.add_post("/v1/echo", echo, name="test.echo")
    app.router.add_get("/v1/items", items, name="test.items")
    app.router.add_post("/v1/admin", items, name="test.admin")
    app.router.add_get("/healthz", healthz)
    return app


Send = Callable[..., Awaitable[tuple[int, dict[str, str], dict[str, Any]]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def rate_clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def base_url(clock: FakeClock, rate_clock: FakeClock) -> AsyncIterator[str]:
    async with serving(
        build_app(demo_registry(), clock=clock.time, rate_clock=rate_clock.monotonic)
    ) as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    data: Any = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with session.request(method, url, data=data, headers=headers or {}) as resp:
        return resp.status, dict(resp.headers), await resp.json(content_type=None)


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key_id: str = "motcua-demo",
    secret: str = MOTCUA_NEW,
    created: float = NOW,
    **kwargs: Any,
) -> dict[str, str]:
    return sign_request(
        method,
        url,
        {"Content-Type": "application/json"},
        body,
        key_id,
        secret,
        created=int(created),
        **kwargs,
    )


def problem_type(body: dict[str, Any]) -> str:
    return str(body["type"]).removeprefix(PROBLEM_BASE)


BODY = json.dumps({"dossier": "HS-0001", "amount": 50000}).encode()


@pytest.mark.parametrize("secret", [MOTCUA_OLD, MOTCUA_NEW])
async def test_signed_request_with_either_rotation_secret_passes(
    base_url: str, session: aiohttp.ClientSession, secret: str
) -> None:
    """A request signed with either of a client's two secrets authenticates it."""
    url = base_url + "/v1/echo"
    status, _, body = await call(
        session, "POST", url, data=BODY, headers=signed("POST", url, BODY, secret=secret)
    )
    assert status == 200
    assert body == {
        "client": "motcua-demo",
        "auth_method": "signature",
        "data": {"dossier": "HS-0001", "amount": 50000},
    }


async def test_signed_get_with_query_passes(base_url: str, session: aiohttp.ClientSession) -> None:
    """A body-less GET with a query string verifies without a Content-Digest."""
    url = base_url + "/v1/items?page=2&size=10"
    status, _, body = await call(session, "GET", url, headers=signed("GET", url))
    assert status == 200
    assert body["client"] == "motcua-demo"


async def test_public_path_needs_no_signature(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """/healthz answers without any authentication."""
    status, _, body = await call(session, "GET", base_url + "/healthz")
    assert status == 200
    assert body == {"status": "ok"}


def _tamper_signature(headers: dict[str, str]) -> dict[str, str]:
    label, _, value = headers["Signature"].partition("=")
    first = "B" if value[1] != "B" else "C"
    return {**headers, "Signature": f"{label}={value[0]}{first}{value[2:]}"}


async def test_refusals_answer_401_with_their_type(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """Each way of failing authentication is a 401 problem with its own type."""
    url = base_url + "/v1/echo"
    other = json.dumps({"dossier": "HS-9999", "amount": 1}).encode()
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("missing-signature", BODY, {"Content-Type": "application/json"}),
        ("unknown-client", BODY, signed("POST", url, BODY, key_id="nobody-demo")),
        ("bad-digest", other, signed("POST", url, BODY)),
        ("bad-signature", BODY, _tamper_signature(signed("POST", url, BODY))),
        ("bad-signature", BODY, signed("POST", url, BODY, secret="not-the-secret")),
        ("insufficient-coverage", BODY, signed("POST", url, BODY, covered=("@method",))),
        ("stale-request", BODY, signed("POST", url, BODY, created=NOW - 301)),
        ("stale-request", BODY, signed("POST", url, BODY, created=NOW + 60)),
    ]
    for expected, data, headers in cases:
        status, resp_headers, body = await call(session, "POST", url, data=data, headers=headers)
        assert (status, problem_type(body)) == (401, expected), headers
        assert resp_headers["Content-Type"].startswith("application/problem+json")


async def test_signature_for_another_path_is_refused(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """A signature made for one path does not authenticate a request to another."""
    headers = signed("GET", base_url + "/v1/other")
    status, _, body = await call(session, "GET", base_url + "/v1/items", headers=headers)
    assert (status, problem_type(body)) == (401, "bad-signature")


async def test_replayed_nonce_is_refused(base_url: str, session: aiohttp.ClientSession) -> None:
    """The same signed request sent twice is accepted once, then refused as a replay."""
    url = base_url + "/v1/echo"
    headers = signed("POST", url, BODY)
    first, _, _ = await call(session, "POST", url, data=BODY, headers=headers)
    second, _, body = await call(session, "POST", url, data=BODY, headers=headers)
    assert first == 200
    assert (second, problem_type(body)) == (401, "replayed-request")


async def test_operation_not_granted_is_forbidden(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """A client calling an operation it was not granted gets 403 and a forbidden event."""
    url = base_url + "/v1/echo"
    headers = signed("POST", url, BODY, key_id="portal-demo", secret=PORTAL)
    with capture_logs() as events:
        status, _, body = await call(session, "POST", url, data=BODY, headers=headers)
    assert (status, problem_type(body)) == (403, "forbidden")
    forbidden = [e for e in events if e["event"] == "security.forbidden"]
    assert forbidden
    assert forbidden[0]["client_id"] == "portal-demo"
    assert forbidden[0]["operation"] == "test.echo"


async def test_rate_limit_answers_429_with_retry_after(
    base_url: str, session: aiohttp.ClientSession, rate_clock: FakeClock
) -> None:
    """Past its burst a client gets 429 with Retry-After; the bucket refills with time."""
    url = base_url + "/v1/items"

    async def one() -> tuple[int, dict[str, str], dict[str, Any]]:
        return await call(
            session, "GET", url, headers=signed("GET", url, key_id="tight-demo", secret=TIGHT)
        )

    assert (await one())[0] == 200
    assert (await one())[0] == 200
    with capture_logs() as events:
        status, headers, body = await one()
    assert (status, problem_type(body)) == (429, "rate-limited")
    assert headers["Retry-After"] == "1"
    assert any(e["event"] == "security.rate_limited" for e in events)
    rate_clock.advance(1.0)
    assert (await one())[0] == 200


async def test_oversized_body_by_content_length_is_413(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """A declared Content-Length over the limit is refused with 413 before authentication."""
    status, _, body = await call(session, "POST", base_url + "/v1/echo", data=b"x" * (MAX_BODY + 1))
    assert (status, problem_type(body)) == (413, "payload-too-large")


async def test_declared_oversized_body_is_refused_without_waiting_for_it(base_url: str) -> None:
    """A Content-Length over the limit gets 413 at once, before any body byte arrives."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")


async def test_oversized_chunked_body_is_413(base_url: str, session: aiohttp.ClientSession) -> None:
    """A chunked body without a length is cut off with 413 once it passes the limit."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * 400

    status, _, body = await call(session, "POST", base_url + "/v1/echo", data=chunks())
    assert (status, problem_type(body)) == (413, "payload-too-large")


async def test_body_at_the_limit_is_accepted(base_url: str, session: aiohttp.ClientSession) -> None:
    """A body of exactly the limit is read and authenticated."""
    url = base_url + "/v1/echo"
    data = json.dumps({"pad": "z" * (MAX_BODY - 11)}).encode()
    assert len(data) == MAX_BODY
    status, _, _ = await call(session, "POST", url, data=data, headers=signed("POST", url, data))
    assert status == 200


@pytest.mark.parametrize("data", [b'{"dossier": ', b"\xff\xfe{}", b"", b"[NaN]"])
async def test_malformed_json_is_400(
    base_url: str, session: aiohttp.ClientSession, data: bytes
) -> None:
    """A correctly signed body that is not UTF-8 JSON gets 400 malformed-json."""
    url = base_url + "/v1/echo"
    status, _, body = await call(session, "POST", url, data=data, headers=signed("POST", url, data))
    assert (status, problem_type(body)) == (400, "malformed-json")


async def test_refusals_are_security_events_without_the_body(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    """401s emit their security event with client id, remote address and path, never the body."""
    url = base_url + "/v1/echo"
    secret_body = json.dumps({"so_dinh_danh": "001099012345"}).encode()
    bad = _tamper_signature(signed("POST", url, secret_body))
    replay = signed("POST", url, secret_body)
    with capture_logs() as events:
        await call(session, "POST", url, data=secret_body, headers=bad)
        await call(session, "POST", url, data=secret_body, headers=replay)
        await call(session, "POST", url, data=secret_body, headers=replay)
        await call(
            session,
            "POST",
            url,
            data=secret_body,
            headers=signed("POST", url, secret_body, created=0),
        )
        await call(session, "POST", url, data=secret_body, headers={})
        await call(
            session,
            "POST",
            url,
            data=secret_body,
            headers=signed("POST", url, secret_body, key_id="ghost-x"),
        )
    security = {e["event"]: e for e in events if e["event"].startswith("security.")}
    assert set(security) == {
        "security.bad_signature",
        "security.replayed_request",
        "security.stale_request",
        "security.auth_failed",
        "security.unknown_client",
    }
    assert security["security.bad_signature"]["client_id"] == "motcua-demo"
    assert security["security.bad_signature"]["remote"] == "127.0.0.1"
    assert security["security.bad_signature"]["path"] == "/v1/echo"
    assert security["security.auth_failed"]["reason"] == "missing-signature"
    assert "001099012345" not in repr(events)
