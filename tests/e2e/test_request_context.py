"""Who asked, for what, on whose behalf: the request context through the gateway.

Agency, procedure and officer reach the population sandbox as MaDonVi, MaDVC and
MaCanBo for that request; the inbound audit record carries them (the officer masked
and digested, never in clear), purpose and dossier code, and the verdict.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from adapters.population.config import RequestDefaults
from gateway.audit.log import AuditLog
from gateway.store import StoreConfig, open_store
from tests.conftest import find_leaks
from tests.support.gateway import Gateway

AN = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}
OFFICER = "001080000001"
CONTEXT = {
    "agency_code": "000.00.31.H29",
    "procedure_code": "1.001234",
    "officer_id": OFFICER,
    "purpose": "Cấp phiếu lý lịch tư pháp cho công dân 092090001234",
    "dossier_code": "000.00.31.H29-261201-0001",
}


async def _inbound(gateway: Gateway, operation: str, at_least: int = 1) -> list[dict[str, Any]]:
    """The inbound records of ``operation``, once ``at_least`` are committed."""
    store = await open_store(StoreConfig(url=gateway.settings.store.url))
    try:
        for _ in range(200):
            rows = await store.fetch_all(
                "SELECT * FROM audit_records WHERE kind = 'inbound' AND operation = $1"
                " ORDER BY seq",
                operation,
            )
            if len(rows) >= at_least:
                return rows
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    raise AssertionError(f"fewer than {at_least} {operation} records")


async def _digest(gateway: Gateway, id_number: str) -> str:
    store = await open_store(StoreConfig(url=gateway.settings.store.url))
    try:
        return AuditLog(store, gateway.settings.audit, "test").subject_digest(id_number)
    finally:
        await store.close()


async def test_verify_sends_the_context_upstream_and_audits_it(gateway: Gateway) -> None:
    """MaDonVi/MaDVC/MaCanBo reach the sandbox for this request; the audit record holds
    the context (officer masked and digested, the id in purpose masked) and the verdict;
    the officer is not a subject of the record."""
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", {**AN, **CONTEXT})
    assert status == 200
    assert body["verdict"] == "match"
    stats = await gateway.population.admin("stats")
    assert [{k: r[k] for k in ("MaDVC", "MaDonVi", "MaCanBo")} for r in stats["received"]] == [
        {"MaDVC": "1.001234", "MaDonVi": "000.00.31.H29", "MaCanBo": "001*******01"}
    ]
    (row,) = await _inbound(gateway, "citizens.verify")
    detail = json.loads(row["detail"])
    assert detail["verdict"] == "match"
    assert detail["context"] == {
        "agency_code": "000.00.31.H29",
        "procedure_code": "1.001234",
        "purpose": "Cấp phiếu lý lịch tư pháp cho công dân 092*******34",
        "dossier_code": "000.00.31.H29-261201-0001",
        "officer_masked": "001*******01",
        "officer_digest": await _digest(gateway, OFFICER),
    }
    assert json.loads(row["subject_digests"]) == [await _digest(gateway, AN["id_number"])]
    assert json.loads(row["masked_ids"]) == ["092*******34"]
    flat = json.dumps(row, default=str)
    assert OFFICER not in flat
    assert find_leaks([flat]) == []


async def test_without_context_the_defaults_go_upstream_and_no_context_is_recorded(
    gateway: Gateway,
) -> None:
    """No context given: the configured defaults are sent; the record has the verdict only."""
    status, _, _ = await gateway.call("POST", "/v1/citizens/verify", {**AN, "full_name": "X Y"})
    assert status == 200
    defaults = RequestDefaults()
    (received,) = (await gateway.population.admin("stats"))["received"]
    assert (received["MaDVC"], received["MaDonVi"]) == (
        defaults.service_code,
        defaults.agency_code,
    )
    (row,) = await _inbound(gateway, "citizens.verify")
    detail = json.loads(row["detail"])
    assert "context" not in detail
    assert detail["verdict"] == "mismatch"


async def test_lookup_sends_and_audits_the_context(gateway: Gateway) -> None:
    """The look-up takes the same context; no verdict on a look-up."""
    body = {"id_number": AN["id_number"], **CONTEXT, "agency_code": "000.00.00.H29"}
    status, _, _ = await gateway.call("POST", "/v1/citizens/lookup", body)
    assert status == 200
    (received,) = (await gateway.population.admin("stats"))["received"]
    assert received["MaDonVi"] == "000.00.00.H29"
    assert received["MaCanBo"] == "001*******01"
    (row,) = await _inbound(gateway, "citizens.lookup")
    detail = json.loads(row["detail"])
    assert detail["context"]["agency_code"] == "000.00.00.H29"
    assert detail["context"]["officer_masked"] == "001*******01"
    assert "verdict" not in detail
    assert OFFICER not in json.dumps(row, default=str)


async def test_a_bad_context_is_a_422_naming_the_field_without_echo(gateway: Gateway) -> None:
    """A wrong officer id, agency or procedure code: 422 naming each, the value not in the
    answer, nothing sent upstream."""
    bad = {
        "officer_id": "001080000001234",
        "agency_code": "Sở Tư pháp",
        "procedure_code": "1.0;DROP",
        "purpose": "a\u202eb",
    }
    lookup = {"id_number": AN["id_number"]}
    for path, base in (("/v1/citizens/verify", AN), ("/v1/citizens/lookup", lookup)):
        status, body, _ = await gateway.call("POST", path, {**base, **bad})
        assert status == 422
        assert {e["field"] for e in body["errors"]} == set(bad)
        text = json.dumps(body, ensure_ascii=False)
        assert "001080000001234" not in text
        assert "Sở Tư pháp" not in text
    status, body, _ = await gateway.call(
        "POST", "/v1/citizens/verify", {**AN, "officer_id": "123456789"}
    )
    assert status == 422
    assert "CMND" in body["errors"][0]["message"]
    assert (await gateway.population.admin("stats"))["soap_requests"] == 0


async def test_business_lookups_take_and_audit_agency_and_procedure(gateway: Gateway) -> None:
    """Query parameters agency_code/procedure_code are recorded; a bad or repeated one is a
    422 naming it."""
    status, _, _ = await gateway.call(
        "GET", "/v1/businesses/1801234562?agency_code=000.00.31.H29&procedure_code=2.002"
    )
    assert status == 200
    (row,) = await _inbound(gateway, "businesses.read")
    assert json.loads(row["detail"])["context"] == {
        "agency_code": "000.00.31.H29",
        "procedure_code": "2.002",
    }
    status, body, _ = await gateway.call(
        "GET",
        "/v1/businesses/1801234562?agency_code=%3Cscript%3E&procedure_code=a&procedure_code=b",
    )
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"agency_code", "procedure_code"}
    assert "script" not in json.dumps(body)
