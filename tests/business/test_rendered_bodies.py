"""A warm business lookup answers with the body rendered when the record was first served."""

from __future__ import annotations

import dataclasses
import gc

import aiohttp
import pytest
from aiohttp import web

from adapters.business.models import BusinessRecord
from gateway.appkeys import AUDIT_LOG, BUSINESS_SERVICE
from gateway.audit.config import AuditConfig
from gateway.audit.null import NullAuditLog
from gateway.businesses.routes import _normalized, routes
from gateway.businesses.service import BusinessService, business_to_json
from gateway.errors import InvalidRequest
from gateway.http.boundary import problem_middleware
from gateway.problems import json_response
from tests.business.conftest import Sandbox, make_client
from tests.business.test_route import GatewayClient
from tests.support.clock import FakeClock

RECORD = BusinessRecord(
    tax_code="1801234562",
    name="CÔNG TY TNHH NINH KIỀU",
    representatives=["Nguyễn Văn Minh"],
    charter_capital=5_000_000_000,
)


class _Registry:
    """A business registry lookup (the service's one dependency) answering from a dict."""

    def __init__(self, *records: BusinessRecord) -> None:
        self.records = {r.tax_code: r for r in records}

    async def get(self, tax_code: str) -> BusinessRecord | None:
        return self.records.get(tax_code)


async def test_the_cached_body_is_the_freshly_rendered_one() -> None:
    """Byte for byte what json_response writes, and the same bytes again on a hit."""
    service = BusinessService(_Registry(RECORD), clock=FakeClock().monotonic)
    first = await service.get(RECORD.tax_code)
    assert first is not None
    assert first.body == json_response(business_to_json(RECORD)).body
    hit = await service.get(RECORD.tax_code)
    assert hit is not None
    assert hit.body is first.body


async def test_a_new_record_is_rendered_anew() -> None:
    """A refreshed record (a new object, same tax code) gets its own body, never a stale one."""
    clock = FakeClock()
    registry = _Registry(RECORD)
    service = BusinessService(registry, ttl_seconds=60, clock=clock.monotonic)
    before = await service.get(RECORD.tax_code)
    assert before is not None
    assert b"TNHH" in before.body
    registry.records[RECORD.tax_code] = dataclasses.replace(
        RECORD, name="CÔNG TY CỔ PHẦN NINH KIỀU"
    )
    clock.advance(61)
    after = await service.get(RECORD.tax_code)
    assert after is not None
    assert "CỔ PHẦN".encode() in after.body


async def test_a_body_is_held_no_longer_than_its_record() -> None:
    """When the service lets a record go, its body (names included) goes too."""
    records = [dataclasses.replace(RECORD, tax_code=f"180123456{n}") for n in range(3)]
    service = BusinessService(_Registry(*records), max_entries=2, clock=FakeClock().monotonic)
    for record in records:
        found = await service.get(record.tax_code)
        assert found is not None
        assert record.tax_code.encode() in found.body
    del found
    gc.collect()
    held = [o for o in gc.get_objects() if isinstance(o, tuple) and len(o) == 3]
    bodies = [o[2] for o in held if o[0] is records[0] and isinstance(o[2], bytes)]
    assert bodies == []


def test_a_refused_tax_code_is_refused_every_time() -> None:
    """Only normalised codes are remembered; a bad one raises on each request."""
    assert _normalized("1800000113 - 001") == "1800000113-001"
    for _ in range(2):
        with pytest.raises(InvalidRequest):
            _normalized("1801234563")


async def test_a_warm_answer_is_the_fresh_answer(
    ngsp: Sandbox, session: aiohttp.ClientSession, aiohttp_client: GatewayClient
) -> None:
    """The cached lookup's body and content type are those of the first (cold) answer."""
    client, _ = make_client(ngsp, session)
    service = BusinessService(client, ttl_seconds=600, clock=ngsp.clock.monotonic)
    app = web.Application(middlewares=[problem_middleware])
    app[BUSINESS_SERVICE] = service
    app[AUDIT_LOG] = NullAuditLog(AuditConfig(enabled=False))
    app.add_routes(routes)
    gateway = await aiohttp_client(app)
    cold = await gateway.get("/v1/businesses/1801234562")
    warm = await gateway.get("/v1/businesses/180-123-4562")
    found = await service.get("1801234562")
    assert found is not None
    fresh = json_response(business_to_json(found.record))
    assert await cold.read() == await warm.read() == fresh.body
    assert (
        cold.headers["Content-Type"]
        == warm.headers["Content-Type"]
        == fresh.content_type + ("; charset=utf-8")
    )
    assert ngsp.state.stats.lookups_by_msdn["1801234562"] == 1
