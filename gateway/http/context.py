"""The inbound request context: request id, trace, and the request's records.

* :func:`request_context_middleware` (outermost) — the request id (accepted from
  ``X-Request-ID`` when sane, else made) and the W3C trace (the caller's
  ``traceparent`` when valid, else a new one: :mod:`gateway.tracing`), both bound
  into every log line (``request_id``, ``trace_id``, ``span_id``) and sent
  upstream; the answer carries ``X-Request-ID`` and ``traceresponse``. The
  request id is logged verbatim, never masked, so a caller's id of exactly 9 or
  12 digits (the shape of a CMND or CCCD number) is replaced by a fresh one,
  which the answer's ``X-Request-ID`` carries back. One access line per
  request, carrying the operation's outcome (:mod:`gateway.http.outcome`) and
  the operational record of each upstream exchange (the four timestamps, ISO
  8601 UTC, and the span ids it sent); request metrics. The line and the
  metrics are written by :mod:`gateway.http.access_log`; the problem
  boundary is :mod:`gateway.http.boundary`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from adapters.http import REQUEST_ID
from adapters.observability import UpstreamExchange, collect_exchanges
from adapters.tracecontext import TraceContext
from gateway import tracing
from gateway.appkeys import SERVING
from gateway.auth.forwarded import client_address
from gateway.http.access_log import operation_of, write_records
from gateway.http.outcome import collect_outcome, end_outcome
from gateway.logging import PERSONAL_ID_SHAPE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The request id of the current request (``request[REQUEST_ID_KEY]``).
REQUEST_ID_KEY = web.RequestKey("request_id", str)
#: The W3C trace of the current request (``request[TRACE_KEY]``).
TRACE_KEY = web.RequestKey("trace", TraceContext)
#: The upstream exchanges this request caused (the audit log records each).
UPSTREAM_EXCHANGES: web.RequestKey[list[UpstreamExchange]] = web.RequestKey("upstream_exchanges")

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_errlog = structlog.get_logger("gateway.error")


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID", "")
    if _SANE_REQUEST_ID.fullmatch(given) and not PERSONAL_ID_SHAPE.fullmatch(given):
        return given
    return uuid.uuid4().hex


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = _request_id(request)
    request[REQUEST_ID_KEY] = rid
    token = REQUEST_ID.set(rid)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    client_address(request)  # once, here: every later layer reads the kept value
    trace, trace_token = tracing.start_request(request.headers)
    request[TRACE_KEY] = trace
    exchanges = collect_exchanges()
    request[UPSTREAM_EXCHANGES] = exchanges
    outcome, outcome_token = collect_outcome()
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
        operation = operation_of(request)
        end_outcome(outcome_token)
        write_records(request, operation, status, exchanges, outcome, request_in, duration)
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
