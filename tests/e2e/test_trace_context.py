"""A caller's W3C trace, through the whole gateway and the sandboxes, and back.

The population (SOAP) and business registry (REST) sandboxes record the
``traceparent`` headers they receive (``GET /_admin/stats``): the caller's trace
id must reach them unchanged, with a span id of the gateway's own; every log line
of the request and its audit records carry the trace; ``traceresponse`` comes back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.tracecontext import parse_traceparent
from tests.e2e.conftest import audit_records_of
from tests.request_ids import production_log_lines
from tests.support.gateway import Gateway

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
AN = {
    "id_number": "092090001234",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-05-12",
    "gender": "male",
}
CALLS = [
    pytest.param("POST", "/v1/citizens/verify", AN, "population", id="population-soap"),
    pytest.param("GET", "/v1/businesses/1801234562", None, "ngsp", id="business-rest"),
]


@pytest.mark.parametrize(("method", "path", "body", "peer"), CALLS)
async def test_a_callers_trace_reaches_the_sandbox_the_logs_and_the_audit_record(
    gateway: Gateway, method: str, path: str, body: Any, peer: str
) -> None:
    """Same trace id upstream (new span id), on every line, in the records, in traceresponse."""
    sandbox = gateway.population if peer == "population" else gateway.ngsp
    caller = f"00-{TRACE}-{PARENT}-01"
    with production_log_lines() as lines:
        status, answer, headers = await gateway.call(
            method, path, body, headers={"traceparent": caller, "X-Request-ID": "trace-e2e-1"}
        )
    assert status == 200, answer
    answered = parse_traceparent(headers["traceresponse"])
    assert answered is not None
    assert answered.trace_id == TRACE
    assert answered.parent_id != PARENT

    seen = [parse_traceparent(t) for t in (await sandbox.admin("stats"))["traceparents"]]
    assert seen
    assert all(p is not None and p.trace_id == TRACE for p in seen)
    upstream_spans = {p.parent_id for p in seen if p is not None}
    assert PARENT not in upstream_spans
    assert answered.parent_id not in upstream_spans

    mine = [json.loads(line) for line in lines]
    mine = [line for line in mine if line.get("request_id") == "trace-e2e-1"]
    (access,) = [line for line in mine if line["logger"] == "gateway.access"]
    assert access["upstream"]["span_ids"]
    assert set(access["upstream"]["span_ids"]) <= upstream_spans
    for line in mine:
        assert line["trace_id"] == TRACE, line
        assert line["span_id"] == answered.parent_id, line

    records = await audit_records_of(gateway, "trace-e2e-1")
    inbound = [json.loads(r["detail"]) for r in records if r["kind"] == "inbound"]
    upstream = [u for detail in inbound for u in detail.pop("upstream", [])]
    for detail in inbound:
        detail.pop("verdict", None)  # a verification's verdict (issue 14), not the trace's
    assert inbound == [
        {"method": method, "remote": "127.0.0.1", "trace_id": TRACE, "span_id": answered.parent_id}
    ]
    assert upstream
    assert all(d["trace_id"] == TRACE for d in upstream)
    assert {s for d in upstream for s in d["span_ids"]} <= upstream_spans
    assert any(set(d["span_ids"]) & upstream_spans for d in upstream)


@pytest.mark.parametrize(
    "traceparent",
    [
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{PARENT}-01",
        f"ff-{TRACE}-{PARENT}-01",
        "garbage",
    ],
)
async def test_an_invalid_traceparent_starts_a_new_trace_all_the_way_upstream(
    gateway: Gateway, traceparent: str
) -> None:
    """A broken header is no error: answered 200, in a fresh trace the sandbox sees too."""
    status, answer, headers = await gateway.call(
        "POST",
        "/v1/citizens/verify",
        AN,
        headers={"traceparent": traceparent, "tracestate": "congo=t61rcWkgMzE"},
    )
    assert status == 200, answer
    answered = parse_traceparent(headers["traceresponse"])
    assert answered is not None
    assert answered.trace_id not in (TRACE, TRACE.upper(), "0" * 32)
    seen = [parse_traceparent(t) for t in (await gateway.population.admin("stats"))["traceparents"]]
    assert seen
    assert all(p is not None and p.trace_id == answered.trace_id for p in seen)
