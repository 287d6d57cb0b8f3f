"""The audit log and security monitoring, seen from a running gateway."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from gateway.audit.commands import audit_verify_command
from gateway.security.report import security_report
from gateway.store import StoreConfig, open_store
from tests.conftest import find_leaks
from tests.support.gateway import Gateway

AN = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


def _store_config(gateway: Gateway) -> StoreConfig:
    return StoreConfig(url=gateway.settings.store.url)


async def _audit_rows(gateway: Gateway, at_least: int) -> list[dict[str, Any]]:
    """The audit records, once the writer has committed ``at_least`` of them.

    The default durability is "buffered": requests are answered before their records
    are committed, a few milliseconds later.
    """
    store = await open_store(_store_config(gateway))
    try:
        for _ in range(100):
            rows = await store.fetch_all("SELECT * FROM audit_records ORDER BY seq")
            if len(rows) >= at_least:
                return rows
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    raise AssertionError(f"fewer than {at_least} audit records after 2 s")


async def test_each_exchange_is_audited_without_personal_data(gateway: Gateway) -> None:
    """One chained record per request, its upstream calls folded in: digests, no ids."""
    await gateway.call("POST", "/v1/citizens/verify", AN)
    await gateway.call("POST", "/v1/citizens/lookup", {"id_number": "093185000999"})
    await gateway.call("POST", "/v1/citizens/verify", AN, sign=False)  # refused: 401
    await gateway.call("GET", "/v1/businesses/1801234562")
    rows = await _audit_rows(gateway, at_least=4)  # 4 inbound, 3 upstream calls folded in
    kinds = [(r["kind"], r["operation"], r["status"]) for r in rows]
    assert ("inbound", "citizens.verify", 200) in kinds
    assert ("inbound", "citizens.verify", 401) in kinds
    assert ("inbound", "businesses.read", 200) in kinds
    assert "upstream" not in {r["kind"] for r in rows}
    folded = [u["operation"] for r in rows for u in json.loads(r["detail"]).get("upstream", [])]
    population, business = "population.TraCuuThongTinCongDan", "business.chiTietDoanhNghiep"
    assert sorted(folded) == sorted([population, population, business])
    verify_row = next(r for r in rows if r["operation"] == "citizens.verify" and r["status"] == 200)
    assert verify_row["request_digest"]
    assert verify_row["response_digest"]
    assert "092*******34" in verify_row["masked_ids"]
    assert json.loads(verify_row["subject_digests"])  # a keyed digest of the id
    assert find_leaks([json.dumps(r, default=str) for r in rows]) == []


async def test_audit_verify_passes_then_names_a_tampered_record(gateway: Gateway) -> None:
    """`audit verify` is 0 on the untouched log, and names the record changed behind its back."""
    await gateway.call("POST", "/v1/citizens/verify", AN)
    await gateway.call("GET", "/v1/businesses/1800998879")
    await _audit_rows(gateway, at_least=2)  # one record per request
    config = _store_config(gateway)
    out = io.StringIO()
    assert await audit_verify_command(config, gateway.settings.audit, None, out=out) == 0
    store = await open_store(config)
    try:
        async with store.transaction() as tx:
            await tx.execute("UPDATE audit_records SET status = 500 WHERE seq = 2")
    finally:
        await store.close()
    out = io.StringIO()
    assert await audit_verify_command(config, gateway.settings.audit, None, out=out) == 1
    assert "changed" in out.getvalue()


async def test_enumeration_of_personal_ids_raises_an_alert(gateway: Gateway) -> None:
    """One client verifying many distinct ids that mostly fail to match raises security.alert."""
    for n in range(6):  # the test config alerts at 5 distinct ids, half of them not matching
        claim = {
            "id_number": f"09209000{n:04d}",
            "full_name": "Nguyễn Thị Bình",
            "birth_date": "1990-01-01",
        }
        status, _, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
        assert status == 200
    await asyncio.sleep(0.3)  # the recorder writes every 0.1 s in the test config
    store = await open_store(_store_config(gateway))
    try:
        alerts = await store.fetch_all("SELECT detector, subject FROM security_alerts")
    finally:
        await store.close()
    assert ("enumeration", "motcua-demo") in {(a["detector"], a["subject"]) for a in alerts}


async def test_security_report_counts_refusals_by_kind(gateway: Gateway) -> None:
    """Bad signatures and forbidden calls show up in the security report by kind and client."""
    await gateway.call("POST", "/v1/citizens/verify", AN, secret="wrong")
    await gateway.call(
        "POST", "/v1/citizens/lookup", {"id_number": AN["id_number"]}, client="portal-demo"
    )
    await asyncio.sleep(0.3)
    store = await open_store(_store_config(gateway))
    try:
        from datetime import UTC, datetime, timedelta

        report = await security_report(store, datetime.now(UTC) - timedelta(hours=1))
    finally:
        await store.close()
    text = json.dumps(report, default=str)
    assert "bad_signature" in text
    assert "forbidden" in text
    assert "portal-demo" in text
