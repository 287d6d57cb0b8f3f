"""GET /v1/businesses/{tax_code} over a real aiohttp server, the sandbox behind it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.appkeys import AUDIT_LOG, BUSINESS_SERVICE
from gateway.audit.config import AuditConfig
from gateway.audit.null import NullAuditLog
from gateway.businesses.routes import routes
from gateway.businesses.service import BusinessService
from gateway.http.boundary import problem_middleware
from gateway.problems import PROBLEM_CONTENT_TYPE
from tests.business.conftest import Sandbox, make_client

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
GatewayClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def gateway(
    ngsp: Sandbox, session: aiohttp.ClientSession, aiohttp_client: GatewayClient
) -> TestClient[web.Request, web.Application]:
    client, _ = make_client(ngsp, session)
    app = web.Application(middlewares=[problem_middleware])
    app[BUSINESS_SERVICE] = BusinessService(client, ttl_seconds=600, clock=ngsp.clock.monotonic)
    app[AUDIT_LOG] = NullAuditLog(AuditConfig(enabled=False))  # no audit slice in this app
    app.add_routes(routes)
    return await aiohttp_client(app)


async def test_found_business_is_answered_with_freshness_headers(
    gateway: TestClient[web.Request, web.Application], ngsp: Sandbox
) -> None:
    """200 JSON record; Cache-Control max-age counts down and Age counts up with the cache."""
    resp = await gateway.get("/v1/businesses/1801234562")
    assert resp.status == 200
    body = await resp.json()
    assert body["name"] == "CÔNG TY TNHH THƯƠNG MẠI DỊCH VỤ NINH KIỀU"
    assert body["representatives"] == ["Nguyễn Văn Minh", "Trần Thị Thu Hà"]
    assert body["status"] == {"code": "active", "text": "Đang hoạt động"}
    assert resp.headers["Cache-Control"] == "private, max-age=600"
    assert resp.headers["Age"] == "0"
    ngsp.clock.advance(100)
    again = await gateway.get("/v1/businesses/1801234562")
    assert again.headers["Cache-Control"] == "private, max-age=500"
    assert again.headers["Age"] == "100"
    assert ngsp.state.stats.lookups_by_msdn["1801234562"] == 1


@pytest.mark.parametrize("path_code", ["1800000113001", "1800000113-001", "1800000113%20-%20001"])
async def test_branch_code_in_any_spelling(
    gateway: TestClient[web.Request, web.Application], path_code: str
) -> None:
    """The branch is found with the suffix written 001, -001 or with spaces."""
    resp = await gateway.get(f"/v1/businesses/{path_code}")
    assert resp.status == 200
    body = await resp.json()
    assert body["tax_code"] == "1800000113-001"
    assert body["is_branch"] is True


async def test_dissolved_business_is_answered_not_hidden(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    """A dissolved business is 200 with status dissolved (the one-stop system decides)."""
    resp = await gateway.get("/v1/businesses/1800000113")
    assert resp.status == 200
    assert (await resp.json())["status"]["code"] == "dissolved"


@pytest.mark.parametrize(
    ("path_code", "tax_code"),
    [
        ("18.00.000.113", "1800000113"),
        ("18.01.234.562", "1801234562"),
        ("1800-000-113", "1800000113"),
        ("1800.000.113.001", "1800000113-001"),
        ("1800000113%E2%80%93001", "1800000113-001"),  # an en dash, as word processors type it
        ("18%C2%A000%C2%A0000%C2%A0113", "1800000113"),  # no-break spaces
    ],
)
async def test_tax_code_with_dots_dashes_and_spaces_is_found(
    gateway: TestClient[web.Request, web.Application],
    ngsp: Sandbox,
    path_code: str,
    tax_code: str,
) -> None:
    """Every spelling stdnum's mst.compact accepts reaches the registry as the plain code."""
    resp = await gateway.get(f"/v1/businesses/{path_code}")
    assert resp.status == 200
    assert (await resp.json())["tax_code"] == tax_code
    assert ngsp.state.stats.lookups_by_msdn[tax_code.replace("-", "")] == 1


@pytest.mark.parametrize(
    "bad",
    [
        "1801234563",
        "1800000113-000",
        "18012345",
        "abc",
        "18,00,000,113",
        "1800000113_001",
        "18.00.000.114",
    ],
)
async def test_invalid_tax_code_is_422_and_never_sent(
    gateway: TestClient[web.Request, web.Application],
    ngsp: Sandbox,
    session: aiohttp.ClientSession,
    bad: str,
) -> None:
    """An invalid tax code → 422 naming tax_code; the sandbox's lookup count is unchanged."""
    before = (await ngsp.stats(session))["lookups"]
    resp = await gateway.get(f"/v1/businesses/{bad}")
    assert resp.status == 422
    assert resp.content_type == PROBLEM_CONTENT_TYPE
    body = await resp.json()
    assert [e["field"] for e in body["errors"]] == ["tax_code"]
    stats = await ngsp.stats(session)
    assert stats["lookups"] == before
    assert stats["token_requests"] == 0


async def test_unknown_business_is_404_problem(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    """A valid but unregistered tax code → 404 problem+json of type business-not-found."""
    resp = await gateway.get("/v1/businesses/0100233488")
    assert resp.status == 404
    assert resp.content_type == PROBLEM_CONTENT_TYPE
    assert (await resp.json())["type"].endswith("/business-not-found")


async def test_unmappable_reply_is_502(
    gateway: TestClient[web.Request, web.Application],
    ngsp: Sandbox,
    session: aiohttp.ClientSession,
) -> None:
    """An upstream reply the adapter cannot map → 502 upstream-bad-reply, raw reply not shown."""
    await ngsp.misbehave(session, unmappable_rate=1.0)
    resp = await gateway.get("/v1/businesses/1801234562")
    assert resp.status == 502
    body = await resp.json()
    assert body["type"].endswith("/upstream-bad-reply")
    assert "items" not in await resp.text()
