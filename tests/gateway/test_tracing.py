"""W3C Trace Context: header validation, propagation per call, the answer's traceresponse, export.

The parsing cases come from the W3C Trace Context recommendation (section 3.2,
``traceparent``; 3.3, ``tracestate``), not from this gateway's own output. The
request-level cases run the real ``request_context_middleware`` in a small app;
the whole-gateway cases through the sandboxes are ``tests/e2e/test_trace_context.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters import tracecontext
from adapters.http import outbound_headers
from adapters.observability import UpstreamExchange, record_exchange, wall_clock
from adapters.tracecontext import parse_traceparent, parse_tracestate
from gateway import tracing
from gateway.cli import main
from gateway.config import TracingConfig
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware
from gateway.logging import configure_logging
from tests.conftest import configure_suite_logging

# The spec's own example (W3C Trace Context, 3.2.2.x).
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"

INVALID = [
    pytest.param("", id="empty"),
    pytest.param(f"00-{'0' * 32}-{PARENT}-01", id="trace-id-all-zeros"),
    pytest.param(f"00-{TRACE}-{'0' * 16}-01", id="parent-id-all-zeros"),
    pytest.param(f"00-{TRACE.upper()}-{PARENT}-01", id="uppercase-trace-id"),
    pytest.param(f"00-{TRACE}-{PARENT.upper()}-01", id="uppercase-parent-id"),
    pytest.param(f"ff-{TRACE}-{PARENT}-01", id="version-ff"),
    pytest.param(f"0g-{TRACE}-{PARENT}-01", id="version-not-hex"),
    pytest.param(f"00-{TRACE}-{PARENT}-01-extra", id="version-00-with-more-fields"),
    pytest.param(f"00-{TRACE}-{PARENT}-1", id="flags-one-digit"),
    pytest.param(f"00-{TRACE}-{PARENT}-zz", id="flags-not-hex"),
    pytest.param(f"00-{TRACE[:-1]}-{PARENT}-01", id="trace-id-short"),
    pytest.param(f"00-{TRACE}-{PARENT}0-01", id="parent-id-long"),
    pytest.param(f"00_{TRACE}_{PARENT}_01", id="wrong-delimiters"),
    pytest.param(f"01-{TRACE}-{PARENT}-01extra", id="later-version-no-dash-after-flags"),
    pytest.param("not a traceparent at all, but long enough to be looked at closely", id="junk"),
]


def test_a_valid_traceparent_is_read() -> None:
    """The spec's example: trace id, parent id and the sampled flag."""
    parent = parse_traceparent(VALID)
    assert parent is not None
    assert (parent.trace_id, parent.parent_id, parent.flags) == (TRACE, PARENT, 1)


def test_a_later_version_is_read_for_its_first_four_fields() -> None:
    """Version 01 (unknown yet): parsed as 00, fields after a "-" at position 55 ignored."""
    parent = parse_traceparent(f"01-{TRACE}-{PARENT}-03-whatever-comes-next")
    assert parent is not None
    assert (parent.trace_id, parent.parent_id, parent.flags) == (TRACE, PARENT, 3)


@pytest.mark.parametrize("value", INVALID)
def test_an_invalid_traceparent_is_refused(value: str) -> None:
    """Each way a traceparent can be malformed per the spec yields no parent."""
    assert parse_traceparent(value) is None


def test_tracestate_members_are_combined_and_checked() -> None:
    """Several headers join with ","; empty members drop; a bad or repeated key voids it all."""
    assert parse_tracestate(["congo=t61rcWkgMzE", " , rojo=00f067aa0ba902b7"]) == (
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    )
    assert parse_tracestate(["tenant@vendor=x"]) == "tenant@vendor=x"
    assert parse_tracestate(["Congo=upper"]) is None
    assert parse_tracestate(["a=1,a=2"]) is None
    assert parse_tracestate(["novalue"]) is None
    assert parse_tracestate([",".join(f"k{i}=v" for i in range(33))]) is None
    assert parse_tracestate([""]) is None


def _in_request(headers: dict[str, str]) -> tracecontext.TraceContext:
    trace = tracing.context_from_headers(headers)
    tracecontext.CURRENT.set(trace)
    return trace


def test_each_outbound_call_gets_a_new_span_in_the_same_trace() -> None:
    """Two calls of one request: same trace id and flags, two new span ids, tracestate kept."""

    def run() -> tuple[tracecontext.TraceContext, dict[str, str], dict[str, str], Any]:
        trace = _in_request({"traceparent": VALID, "tracestate": "congo=t61rcWkgMzE"})
        first, second = outbound_headers(), outbound_headers()
        return trace, first, second, tracecontext.take_outbound_spans()

    trace, first, second, spans = contextvars.copy_context().run(run)
    a, b = parse_traceparent(first["traceparent"]), parse_traceparent(second["traceparent"])
    assert a is not None
    assert b is not None
    assert a.trace_id == b.trace_id == TRACE
    assert a.flags == b.flags == 1
    assert len({a.parent_id, b.parent_id, PARENT, trace.span_id}) == 4
    assert first["tracestate"] == second["tracestate"] == "congo=t61rcWkgMzE"
    assert [s.span_id for s in spans] == [a.parent_id, b.parent_id]


def test_an_invalid_traceparent_starts_a_new_trace_and_drops_tracestate() -> None:
    """The caller's broken header is ignored, never an error; its tracestate goes with it."""
    trace = tracing.context_from_headers(
        {"traceparent": f"00-{TRACE}-{'0' * 16}-01", "tracestate": "congo=t61rcWkgMzE"}
    )
    assert trace.trace_id != TRACE
    assert parse_traceparent(trace.traceparent()) is not None
    assert trace.parent_id is None
    assert trace.tracestate is None


def test_outside_a_request_each_call_is_a_trace_of_its_own() -> None:
    """Pollers and reconciliation send a valid traceparent too, a new trace per call."""

    def run() -> tuple[str, str]:
        return outbound_headers()["traceparent"], outbound_headers()["traceparent"]

    first, second = contextvars.copy_context().run(run)
    a, b = parse_traceparent(first), parse_traceparent(second)
    assert a is not None
    assert b is not None
    assert a.trace_id != b.trace_id


def test_an_exchange_claims_the_span_ids_its_attempts_sent() -> None:
    """record_exchange names the trace and each attempt's span id; the next starts afresh."""

    def run() -> tuple[UpstreamExchange, UpstreamExchange, list[str]]:
        _in_request({"traceparent": VALID})
        sent = [outbound_headers()["traceparent"], outbound_headers()["traceparent"]]
        now = wall_clock()
        first = UpstreamExchange("population", "lookup", now, now, attempts=2)
        record_exchange(first)
        second = UpstreamExchange("population", "lookup", now, now)
        record_exchange(second)
        return first, second, sent

    first, second, sent = contextvars.copy_context().run(run)
    assert first.trace_id == second.trace_id == TRACE
    assert list(first.span_ids) == [p.split("-")[2] for p in sent]
    assert second.span_ids == ()


def test_webhook_attempts_share_the_event_trace_with_new_spans() -> None:
    """Every attempt at one event: the same trace id, derived from the event id; new span ids."""
    one, two = tracing.webhook_headers("evt_1"), tracing.webhook_headers("evt_1")
    other = tracing.webhook_headers("evt_2")
    a, b, c = (parse_traceparent(h["traceparent"]) for h in (one, two, other))
    assert a is not None
    assert b is not None
    assert c is not None
    assert a.trace_id == b.trace_id == tracing.webhook_trace_id("evt_1")
    assert a.parent_id != b.parent_id
    assert c.trace_id != a.trace_id


# --- through the request middleware ---------------------------------------------------


async def _handler(request: web.Request) -> web.Response:
    """Logs a line, makes two 'upstream' calls and records them as one exchange."""
    structlog.get_logger("t").info("handler.working")
    sent = [outbound_headers()["traceparent"], outbound_headers()["traceparent"]]
    now = wall_clock()
    record_exchange(UpstreamExchange("population", "lookup", now, now + 0.001, attempts=2))
    return web.json_response({"sent": sent})


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/elsewhere")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(middlewares=[request_context_middleware, problem_middleware])
    app.router.add_get("/work", _handler, name="test.work")
    app.router.add_get("/redirect", _redirect, name="test.redirect")
    async with TestClient(TestServer(app)) as c:
        yield c


async def _json_lines(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> Any:
    lines: list[str] = []
    try:
        configure_logging(stream=io.StringIO(), sink=lines.append)
        resp = await client.get(path, headers=headers, allow_redirects=False)
        body = await resp.json() if resp.content_type == "application/json" else None
    finally:
        configure_suite_logging()
    # The test server's own access log (``lienthong run`` turns it off) is not the gateway's.
    parsed = [json.loads(line) for line in lines]
    return resp, body, [line for line in parsed if line.get("logger") != "aiohttp.access"]


async def test_the_callers_trace_is_in_every_line_upstream_and_in_traceresponse(
    client: TestClient[Any, Any],
) -> None:
    """trace_id/span_id on every line, upstream span ids on the access line, traceresponse."""
    resp, body, lines = await _json_lines(client, "/work", {"traceparent": VALID})
    answered = parse_traceparent(resp.headers["traceresponse"])
    assert answered is not None
    assert answered.trace_id == TRACE
    assert answered.parent_id != PARENT  # the gateway's own span, not the caller's
    assert answered.flags == 1
    assert [line["event"] for line in lines] == ["handler.working", "request"]
    for line in lines:
        assert line["trace_id"] == TRACE, line
        assert line["span_id"] == answered.parent_id, line
    sent_spans = [p.split("-")[2] for p in body["sent"]]
    assert all(p.split("-")[1] == TRACE for p in body["sent"])
    (access,) = [line for line in lines if line["event"] == "request"]
    assert access["upstream"]["span_ids"] == sent_spans


@pytest.mark.parametrize("value", INVALID[:6])
async def test_an_invalid_traceparent_is_answered_with_a_new_trace(
    client: TestClient[Any, Any], value: str
) -> None:
    """Never an error: the request is served, in a fresh trace that is the one sent upstream."""
    resp, body, lines = await _json_lines(client, "/work", {"traceparent": value})
    assert resp.status == 200
    answered = parse_traceparent(resp.headers["traceresponse"])
    assert answered is not None
    assert answered.trace_id != TRACE
    assert all(p.split("-")[1] == answered.trace_id for p in body["sent"])
    assert all(line["trace_id"] == answered.trace_id for line in lines)


async def test_a_redirect_carries_traceresponse_and_its_status(
    client: TestClient[Any, Any],
) -> None:
    """A redirect raised by a handler still answers with traceresponse, logged with its 302."""
    resp, _, lines = await _json_lines(client, "/redirect", {})
    assert resp.status == 302
    assert parse_traceparent(resp.headers["traceresponse"]) is not None
    (access,) = [line for line in lines if line["event"] == "request"]
    assert access["status"] == 302


# --- export over OTLP/HTTP ------------------------------------------------------------


async def test_spans_are_exported_over_otlp_with_the_ids_that_were_sent(
    client: TestClient[Any, Any],
) -> None:
    """A loopback OTLP/HTTP receiver gets the request's server span and the upstream span."""
    if not tracing.sdk_available():
        pytest.skip("the [tracing] extra (opentelemetry-sdk, -exporter-otlp-proto-http) is absent")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[bytes] = []

    async def traces(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(body=b"", content_type="application/x-protobuf")

    receiver = web.Application()
    receiver.router.add_post("/v1/traces", traces)
    async with TestServer(receiver, host="127.0.0.1") as server:
        endpoint = str(server.make_url("/v1/traces"))
        tracing.configure_export(TracingConfig(otlp_endpoint=endpoint))
        try:
            resp, body, _ = await _json_lines(client, "/work", {"traceparent": VALID})
        finally:
            await asyncio.to_thread(tracing.stop_export)  # flushes; the receiver must run
    answered = parse_traceparent(resp.headers["traceresponse"])
    assert answered is not None
    spans = []
    for payload in received:
        export = ExportTraceServiceRequest.FromString(payload)
        for resource_spans in export.resource_spans:
            for scope in resource_spans.scope_spans:
                spans.extend(scope.spans)
    by_id = {span.span_id.hex(): span for span in spans}
    assert received, "the receiver got no export"
    assert answered.parent_id in by_id, (len(received), list(by_id))
    server_span = by_id[answered.parent_id]
    assert server_span.trace_id.hex() == TRACE
    assert server_span.parent_span_id.hex() == PARENT
    assert server_span.name == "test.work"
    last_attempt = body["sent"][-1].split("-")[2]
    assert by_id[last_attempt].parent_span_id.hex() == answered.parent_id
    assert by_id[last_attempt].trace_id.hex() == TRACE


def test_check_config_says_in_one_line_when_export_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """otlp_endpoint set, SDK missing: one warning line naming the key; the config is still ok."""
    # The TLS files in the suite's dev PKI folder (generated at start-up when missing),
    # so the preflight has nothing to report but the warning.
    pki = Path(os.environ["LIENTHONG_TLS__DEV_PKI_DIR"])
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[tracing]\notlp_endpoint = "http://127.0.0.1:4318/v1/traces"\n'
        f'[tls]\ncert_file = "{pki / "server.pem"}"\nkey_file = "{pki / "server.key"}"\n'
        f'client_ca_file = "{pki / "ca.pem"}"\n'
    )
    monkeypatch.setattr(tracing, "sdk_available", lambda: False)
    assert main(["check-config", str(config)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "tracing.otlp_endpoint" in err[0]
    assert "not installed" in err[0]


def test_without_the_sdk_export_stays_off_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Start-up with the endpoint set and no SDK: no export, propagation unaffected."""
    monkeypatch.setattr(tracing, "sdk_available", lambda: False)
    config = TracingConfig(otlp_endpoint="http://127.0.0.1:4318/v1/traces")
    with structlog.testing.capture_logs() as logs:
        assert tracing.configure_export(config) is None
    assert not tracing.exporting()
    assert [entry["event"] for entry in logs] == ["tracing.export_unavailable"]


# --- the audit chain: trace fields in detail, old records unchanged ------------------


def _chain(details: list[dict[str, Any]]) -> list[Any]:
    from gateway.audit.record import GENESIS_DIGEST, AuditRecord

    records, prev = [], GENESIS_DIGEST
    for seq, detail in enumerate(details, start=1):
        draft = AuditRecord(
            seq=seq,
            instance="lienthong-1/requests",
            time_us=1_764_000_000_000_000 + seq,
            kind="inbound",
            operation="citizens.verify",
            outcome="ok",
            prev_digest=prev,
            digest="",
            client_id="motcua-demo",
            status=200,
            request_id=f"req-{seq}",
            detail=detail,
        )
        record = AuditRecord(**{**draft.to_json(), "digest": draft.computed_digest()})
        records.append(record)
        prev = record.digest
    return records


def test_a_record_from_before_trace_fields_hashes_as_it_always_did() -> None:
    """The digest of a pre-trace record is the SHA-256 of the v1 object, computed here by hand."""
    import hashlib

    (record,) = _chain([{"method": "POST"}])
    v1 = (
        '{"client_id":"motcua-demo","detail":{"method":"POST"},"instance":"lienthong-1/requests",'
        '"kind":"inbound","masked_ids":[],"operation":"citizens.verify","outcome":"ok",'
        f'"prev_digest":"{"0" * 64}","request_digest":null,"request_id":"req-1",'
        '"response_digest":null,"status":200,"subject_digests":[],'
        '"time_us":1764000000000001,"v":1}'
    )
    assert record.digest == hashlib.sha256(v1.encode()).hexdigest()


def test_a_chain_of_old_and_new_records_verifies_and_a_changed_trace_id_does_not() -> None:
    """Records without trace fields then with them: one valid chain; the trace id is covered."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from gateway.audit.chain import verify_chain
    from gateway.audit.record import AuditRecord
    from gateway.audit.signing import keyring

    records = _chain(
        [
            {"method": "POST"},
            {"method": "POST", "trace_id": TRACE, "span_id": PARENT},
        ]
    )
    key = keyring([ed25519.Ed25519PrivateKey.generate().public_key()])
    assert verify_chain("lienthong-1/requests", records, [], key) == []
    forged = AuditRecord(
        **{
            **records[1].to_json(),
            "detail": {"method": "POST", "trace_id": "1" * 32, "span_id": PARENT},
        }
    )
    problems = verify_chain("lienthong-1/requests", [records[0], forged], [], key)
    assert [p.what for p in problems] == ["changed"]
