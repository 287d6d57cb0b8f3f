"""Operations endpoints and the API contract, on a running gateway."""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from gateway.http.ops import load_openapi
from tests.support.gateway import Gateway

CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


def _schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A component schema with the document's components, so $refs resolve."""
    return {**doc["components"]["schemas"][name], "components": doc["components"]}


async def test_openapi_document_is_valid_and_served(gateway: Gateway) -> None:
    """The served document is the one in the repo, and it is valid OpenAPI 3.1."""
    status, served, _ = await gateway.call("GET", "/openapi.json", sign=False)
    assert status == 200
    assert served["servers"][0]["url"] == gateway.url  # where it is actually served from
    assert {**served, "servers": None} == {**load_openapi(), "servers": None}
    assert served["servers"][1:] == load_openapi()["servers"][1:]  # type: ignore[index]
    validate(served)


async def test_routes_and_document_agree(gateway: Gateway) -> None:
    """Every named route is documented with its name as operationId, and nothing more."""
    from gateway.app import create_app

    app = create_app(gateway.settings)
    routes = {
        (r.method.lower(), r.resource.canonical, r.name)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None and r.name
    }
    documented = {
        (method, path, op["operationId"])
        for path, item in load_openapi()["paths"].items()
        for method, op in item.items()
    }
    assert routes == documented


async def test_responses_match_their_schemas(gateway: Gateway) -> None:
    """Real answers (verdict, lookup, business, problem) validate against the document."""
    doc = load_openapi()
    _, verdict, _ = await gateway.call("POST", "/v1/citizens/verify", CLAIM)
    _, lookup, _ = await gateway.call(
        "POST", "/v1/citizens/lookup", {"id_number": CLAIM["id_number"]}
    )
    _, business, _ = await gateway.call("GET", "/v1/businesses/1801234562")
    _, problem, _ = await gateway.call("POST", "/v1/citizens/verify", {"x": 1})
    jsonschema.validate(verdict, _schema(doc, "IdentityVerdict"))
    jsonschema.validate(lookup, _schema(doc, "CitizenLookup"))
    jsonschema.validate(business, _schema(doc, "Business"))
    jsonschema.validate(problem, _schema(doc, "Problem"))


async def test_health_and_readiness(gateway: Gateway) -> None:
    """healthz answers alive; readyz reports the store and each upstream's breaker."""
    s1, health, _ = await gateway.call("GET", "/healthz", sign=False)
    s2, ready, _ = await gateway.call("GET", "/readyz", sign=False)
    assert (s1, s2) == (200, 200)
    assert health == {"status": "ok"}
    assert ready["checks"]["store"]["ok"] is True
    assert ready["checks"]["population"]["breaker"]["state"] == "closed"


async def test_metrics_count_requests_and_upstream_calls(gateway: Gateway) -> None:
    """After a verification, /metrics shows the request, the upstream call and the breaker."""
    await gateway.call("POST", "/v1/citizens/verify", CLAIM)
    async with gateway.session.get(gateway.url + "/metrics") as r:
        text = await r.text()
    assert r.status == 200
    assert 'lienthong_requests_total{operation="citizens.verify",status="200"}' in text
    assert (
        'lienthong_upstream_calls_total{operation="TraCuuThongTinCongDan",outcome="ok",upstream="population"}'
        in text
    )
    assert 'lienthong_upstream_breaker_state{upstream="population"}' in text
    assert "lienthong_request_seconds_bucket" in text


async def test_business_through_the_gateway(gateway: Gateway) -> None:
    """GET /v1/businesses/{tax_code} reaches NGSP with a token and caches the answer."""
    s1, first, _ = await gateway.call("GET", "/v1/businesses/1800000113-001")
    s2, second, h2 = await gateway.call("GET", "/v1/businesses/1800000113%20001")
    stats = await gateway.ngsp.admin("stats")
    assert (s1, s2) == (200, 200)
    assert first == second
    assert first["status"]["code"] == "active"
    assert stats["lookups"] == 1
    assert "max-age" in h2["Cache-Control"]
