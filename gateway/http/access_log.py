"""The request's records: request metrics and its one access line.

Written once per request by :func:`gateway.http.context.request_context_middleware`,
after the answer: the two request metrics and one access line. The line's ``event`` is
the operation's outcome event when the service noted one (``citizen.verified``:
:func:`gateway.http.outcome.note_outcome`), with its fields (the verdicts …), else
``request``; its ``upstream`` is the operational record of the upstream exchange the
request caused (a list of them when it caused several): the four timestamps (ISO 8601
UTC), sizes, attempts, outcome, fault code and the span ids it sent.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram

from adapters.observability import UpstreamExchange, label_child
from gateway.auth.keys import CLIENT
from gateway.http.outcome import Outcome

REQUESTS = Counter(
    "lienthong_requests_total", "Inbound requests by operation and status", ["operation", "status"]
)
REQUEST_LATENCY = Histogram(
    "lienthong_request_seconds",
    "Inbound request latency by operation",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_log = structlog.get_logger("gateway.access")


def iso_utc(epoch_seconds: float) -> str:
    """A wall-clock time as logged: ISO 8601 UTC, microseconds, ``Z`` (as the timestamp)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def operation_of(request: web.Request) -> str:
    """The matched route's name (``citizens.verify``), or a coarse label for the rest."""
    route = request.match_info.route
    name = getattr(route, "name", None)
    if name:
        return str(name)
    return "unmatched" if request.match_info.http_exception is not None else "other"


#: The access line's status for a client that left before its request was complete
#: (nginx's convention); nothing is sent, the connection is gone.
CLIENT_CLOSED_REQUEST = 499


def _outcome(status: int) -> str:
    if status == CLIENT_CLOSED_REQUEST:
        return "client_disconnected"
    if status < 400:
        return "ok"
    if status < 500:
        return "rejected"
    return "error"


def exchange_record(
    exchange: UpstreamExchange, request_in: float, response_out: float
) -> dict[str, object]:
    """One upstream exchange's operational record, as the access line nests it."""
    return {
        "system": exchange.upstream,
        "operation": exchange.operation,
        "request_in": iso_utc(request_in),
        "request_out": iso_utc(exchange.request_out),
        "response_in": iso_utc(exchange.response_in),
        "response_out": iso_utc(response_out),
        "bytes_out": exchange.bytes_out,
        "bytes_in": exchange.bytes_in,
        "attempts": exchange.attempts,
        "outcome": exchange.outcome,
        "fault_code": exchange.fault_code,
        "duration_ms": exchange.duration_ms,
        "span_ids": list(exchange.span_ids),
    }


def write_records(
    request: web.Request,
    operation: str,
    status: int,
    exchanges: list[UpstreamExchange],
    outcome: Outcome,
    request_in: float,
    duration: float,
) -> None:
    """The request's metrics and its one access line (outcome and upstream records in it)."""
    response_out = time.time()
    client = request.get(CLIENT)
    client_id = getattr(client, "id", None)
    label_child(REQUESTS, operation, str(status)).inc()
    label_child(REQUEST_LATENCY, operation).observe(duration)
    line: dict[str, object] = {
        **outcome.fields,
        "method": request.method,
        "path": request.path,
        "operation": operation,
        "status": status,
        "client_id": client_id,
        "outcome": _outcome(status),
        "duration_ms": round(duration * 1000, 3),
    }
    if exchanges:
        records = [exchange_record(ex, request_in, response_out) for ex in exchanges]
        line["upstream"] = records[0] if len(records) == 1 else records
    (_log.warning if outcome.warning else _log.info)(outcome.event or "request", **line)
