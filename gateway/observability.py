"""Inbound request context, access and operational records, and the problem boundary.

Two middlewares, outermost first:

* :func:`request_context_middleware` — the request id (accepted from
  ``X-Request-ID`` when sane, else made) and the W3C trace (the caller's
  ``traceparent`` when valid, else a new one: :mod:`gateway.tracing`), both bound
  into every log line (``request_id``, ``trace_id``, ``span_id``) and sent
  upstream; the answer carries ``X-Request-ID`` and ``traceresponse``. The
  request id is logged verbatim, never masked, so a caller's id of exactly 9 or
  12 digits (the shape of a CMND or CCCD number) is replaced by a fresh one,
  which the answer's ``X-Request-ID`` carries back. One access line per
  request; one operational record per upstream exchange with the four
  timestamps (ISO 8601 UTC) and the span ids it sent; request metrics.
* :func:`problem_middleware` — converts whatever a handler raised into an
  ``application/problem+json`` answer: a :class:`~gateway.problems.Problem`
  as it is, a :class:`~gateway.errors.DomainError` by the one table
  (:data:`gateway.problems.DOMAIN_PROBLEMS`), an
  :class:`~adapters.errors.AdapterError`, an aiohttp HTTP exception, or (as a
  500, logged) anything else. Nothing escapes as an HTML error page. A
  client that disconnected mid-request is answered (to no one) and logged with
  status 499 and outcome ``client_disconnected``, never as a 500 with a traceback.
  While the server drains (SIGTERM), every answer closes its connection.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram

from adapters.aliases import Handler
from adapters.errors import AdapterError, UpstreamUnavailable
from adapters.http import REQUEST_ID
from adapters.observability import UpstreamExchange, collect_exchanges
from adapters.tracecontext import TraceContext
from gateway import security_events, tracing
from gateway.auth.keys import CLIENT, SERVING
from gateway.errors import DomainError
from gateway.logging import PERSONAL_ID_SHAPE
from gateway.problems import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    problem_for,
)

#: The request id of the current request (``request[REQUEST_ID_KEY]``).
REQUEST_ID_KEY = web.RequestKey("request_id", str)
#: The W3C trace of the current request (``request[TRACE_KEY]``).
TRACE_KEY = web.RequestKey("trace", TraceContext)
#: The upstream exchanges this request caused (the audit log records each).
UPSTREAM_EXCHANGES: web.RequestKey[list[UpstreamExchange]] = web.RequestKey("upstream_exchanges")

REQUESTS = Counter(
    "lienthong_requests_total", "Inbound requests by operation and status", ["operation", "status"]
)
REQUEST_LATENCY = Histogram(
    "lienthong_request_seconds",
    "Inbound request latency by operation",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_log = structlog.get_logger("gateway.access")
_oplog = structlog.get_logger("gateway.operational")
_errlog = structlog.get_logger("gateway.error")


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if _SANE_REQUEST_ID.fullmatch(given) and not PERSONAL_ID_SHAPE.fullmatch(given):
        return given
    return uuid.uuid4().hex


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


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = _request_id(request)
    request[REQUEST_ID_KEY] = rid
    token = REQUEST_ID.set(rid)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    trace, trace_token = tracing.start_request(request.headers)
    request[TRACE_KEY] = trace
    exchanges = collect_exchanges()
    request[UPSTREAM_EXCHANGES] = exchanges
    request_in = time.time()
    t0 = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = rid
        response.headers[tracing.TRACERESPONSE] = tracing.traceresponse(trace)
        serving = request.config_dict.get(SERVING)
        if serving is not None and serving.draining and not response.prepared:
            response.force_close()  # the client's next request opens a connection elsewhere
        return response
    except web.HTTPException as exc:  # redirects, which problem_middleware lets through
        status = exc.status
        exc.headers[tracing.TRACERESPONSE] = tracing.traceresponse(trace)
        raise
    finally:
        duration = time.perf_counter() - t0
        response_out = time.time()
        operation = operation_of(request)
        client = request.get(CLIENT)
        client_id = getattr(client, "id", None)
        REQUESTS.labels(operation, str(status)).inc()
        REQUEST_LATENCY.labels(operation).observe(duration)
        for ex in exchanges:
            _oplog.info(
                "upstream_exchange",
                client_id=client_id,
                operation=operation,
                upstream=ex.upstream,
                upstream_operation=ex.operation,
                request_in=iso_utc(request_in),
                request_out=iso_utc(ex.request_out),
                response_in=iso_utc(ex.response_in),
                response_out=iso_utc(response_out),
                bytes_out=ex.bytes_out,
                bytes_in=ex.bytes_in,
                attempts=ex.attempts,
                outcome=ex.outcome,
                fault_code=ex.fault_code,
                duration_ms=ex.duration_ms,
                upstream_span_ids=list(ex.span_ids),
            )
        _log.info(
            "request",
            method=request.method,
            path=request.path,
            operation=operation,
            status=status,
            client_id=client_id,
            outcome=_outcome(status),
            duration_ms=round(duration * 1000, 3),
        )
        try:
            tracing.export_request(
                trace,
                name=operation,
                method=request.method,
                path=request.path,
                status=status,
                exchanges=exchanges,
            )
        except Exception:  # export must never fail a request
            _errlog.exception("tracing.export_failed")
        tracing.end_request(trace_token)
        REQUEST_ID.reset(token)
        structlog.contextvars.clear_contextvars()


def problem_for_adapter_error(exc: AdapterError) -> Problem:
    retry_after = exc.retry_after if isinstance(exc, UpstreamUnavailable) else None
    extra: dict[str, Any] = {}
    if exc.upstream:
        extra["upstream"] = exc.upstream
    return Problem(
        exc.detail,
        status=exc.status,
        type_name=exc.problem_type,
        title=exc.title,
        retry_after=retry_after,
        **extra,
    )


def _problem_for_http_exception(exc: web.HTTPException) -> Problem:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("no such resource", type_name="no-such-route")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(
            f"{exc.method} is not allowed here",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body exceeds the configured limit")
    if isinstance(exc, web.HTTPUnsupportedMediaType):
        return UnsupportedMediaType(exc.text or None)
    if exc.status_code == 400:
        return BadRequest(exc.reason)
    return Problem(
        exc.reason, status=exc.status_code, type_name=f"http-{exc.status_code}", title=exc.reason
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.get(REQUEST_ID_KEY)
    try:
        return await handler(request)
    except Problem as problem:
        response = problem.to_response(rid)
        if getattr(problem, "close_connection", False):
            response.force_close()
        return response
    except DomainError as exc:
        return problem_for(exc).to_response(rid)
    except AdapterError as exc:
        security_events.report_adapter_error(exc)
        _errlog.warning(
            "upstream_failed",
            upstream=exc.upstream,
            upstream_operation=exc.operation,
            problem_type=exc.problem_type,
            detail=exc.detail,
        )
        return problem_for_adapter_error(exc).to_response(rid)
    except web.HTTPException as exc:
        if exc.status_code < 400:
            raise  # redirects are answers, not errors
        return _problem_for_http_exception(exc).to_response(rid)
    except ConnectionError:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            _errlog.exception("unhandled_error", path=request.path)
            return Problem("the gateway failed to handle this request").to_response(rid)
        # The client went away mid-request: nothing to answer, no traceback to log.
        response = Problem(
            "the client closed the connection",
            status=CLIENT_CLOSED_REQUEST,
            type_name="client-disconnected",
            title="Client closed request",
        ).to_response(rid)
        response.force_close()
        return response
    except Exception:
        _errlog.exception("unhandled_error", path=request.path)
        return Problem("the gateway failed to handle this request").to_response(rid)
