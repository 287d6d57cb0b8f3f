"""The id a caller gets back in ``X-Request-ID`` finds its request in the logs and the audit log.

A few hundred signed (and some refused) requests with random ids go to a whole
gateway and its sandboxes; the 10,000-id property over the same middlewares and
log pipeline is ``tests/audit/test_request_ids.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from typing import Any

import pytest

from gateway.store import StoreConfig, open_store
from tests.conftest import find_leaks
from tests.request_ids import id_shaped, production_log_lines, random_request_ids
from tests.support import gateway as harness
from tests.support.gateway import Gateway

COUNT = 350
SEED = 11
AN = {
    "id_number": "092090001234",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-05-12",
    "gender": "male",
}
#: (method, path, body, signed, expected status): what an operator's day is made of.
CALLS: list[tuple[str, str, Any, bool, int]] = [
    ("POST", "/v1/citizens/verify", AN, True, 200),
    ("POST", "/v1/citizens/verify", {**AN, "full_name": "Nguyễn Văn Anh"}, True, 200),
    ("POST", "/v1/citizens/lookup", {"id_number": "093185000999"}, True, 200),
    ("GET", "/v1/businesses/1801234562", None, True, 200),
    ("POST", "/v1/citizens/verify", {**AN, "id_number": "12345"}, True, 422),
    ("GET", "/v1/no-such-thing/123456789012", None, True, 404),
    ("POST", "/v1/citizens/verify", AN, False, 401),
]


@pytest.fixture(autouse=True)
def _room_in_the_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upstream quotas (20 calls/s by default) sized for this many requests at once."""
    monkeypatch.setitem(harness.TEST_RESILIENCE, "quota", {"rate_per_second": 2000, "burst": 2000})


async def _audit_rows(gateway: Gateway, inbound: int) -> list[dict[str, Any]]:
    """The audit records, once the (buffered) writer has committed ``inbound`` requests'."""
    store = await open_store(StoreConfig(url=gateway.settings.store.url))
    try:
        for _ in range(200):
            rows = await store.fetch_all("SELECT * FROM audit_records ORDER BY seq")
            if sum(r["kind"] == "inbound" for r in rows) >= inbound:
                return rows
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    raise AssertionError(f"fewer than {inbound} inbound audit records after 4 s")


async def test_random_request_ids_are_found_verbatim_in_logs_and_audit(gateway: Gateway) -> None:
    """Every line and record of a request carries the id its answer returned, unchanged."""
    sent = random_request_ids(random.Random(SEED), COUNT)
    received: list[str] = []
    with production_log_lines() as lines:
        for n, rid in enumerate(sent):
            method, path, body, signed, expected = CALLS[n % len(CALLS)]
            start = len(lines)
            status, answer, headers = await gateway.call(
                method, path, body, sign=signed, headers={"X-Request-ID": rid}
            )
            assert status == expected, answer
            got = headers["X-Request-ID"]
            received.append(got)
            assert got != rid if id_shaped(rid) else got == rid
            if "request_id" in answer:
                assert answer["request_id"] == got
            mine = [json.loads(line) for line in lines[start:]]
            access = [e for e in mine if e["logger"] == "gateway.access"]
            assert [(e["request_id"], e["status"]) for e in access] == [(got, status)]
            if path == "/v1/citizens/verify" and status == 200:
                (verified,) = access
                assert verified["event"] == "citizen.verified"
                assert verified["fields"]["id_number"] == "match"
                assert verified["fields"]["full_name"] in ("match", "mismatch")
                assert verified["upstream"]["system"] == "population"
    seen = Counter(e["request_id"] for e in map(json.loads, lines) if "request_id" in e)
    assert set(seen) <= set(received), "a line carries an id no caller was given"
    assert all(seen[rid] >= 1 for rid in received)

    rows = await _audit_rows(gateway, inbound=COUNT)
    inbound = Counter(r["request_id"] for r in rows if r["kind"] == "inbound")
    assert inbound == Counter(received)
    assert "upstream" not in {r["kind"] for r in rows}  # folded into the inbound record
    assert any(json.loads(r["detail"]).get("upstream") for r in rows)
    population = await gateway.population.admin("stats")
    assert set(population["request_ids"]) <= set(received)  # sent upstream unchanged

    assert sum(id_shaped(rid) for rid in sent) > 5  # the replaced ids were exercised
    assert find_leaks(lines) == []
    assert find_leaks([json.dumps(r, ensure_ascii=False, default=str) for r in rows]) == []
