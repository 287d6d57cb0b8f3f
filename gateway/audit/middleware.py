"""Auditing each path into the gateway: inbound requests (and their upstream calls),
provider callbacks, webhooks sent and operator commands.

Place :func:`audit_middleware` right inside ``request_context_middleware`` and
outside ``problem_middleware``, so it sees the request id, the final answer
(problem+json included) and, once the request is done, the authenticated
client and the body the authentication middleware read::

    request_context → audit → problems → authentication → ACL → rate limit → handler

The record is appended when the handler has returned, before the middleware
hands the answer back to aiohttp, so before it is written to the client: with
``durability = "buffered"`` it is queued (no wait), with ``"commit"`` committed,
by the time the client can read the answer. That ordering is what the audit
log's crash promise (gateway/audit/writer.py) counts from. A handler that streams
its answer itself (a prepared ``StreamResponse``) has sent it before this runs.

Upstream exchanges: ``request_context_middleware`` collects them in a list
and puts it on the request (``request[UPSTREAM_EXCHANGES]``), so this
middleware folds them into the request's one ``inbound`` record, as the list
``detail["upstream"]`` (one object per exchange: the upstream operation
``population.TraCuuThongTinCongDan``, outcome, attempts, fault code, sizes,
duration, the request and response digests when the adapter gave them, the trace
and span ids). Chains written before hold a separate ``upstream`` record per
exchange after its ``inbound`` record instead; both verify and export the same
way, and the quarterly report counts both (gateway/reports/figures.py).

Who asked, for what, on whose behalf: a handler may put on the request
``request[AUDIT_CONTEXT]``, a dict of any of ``agency_code``, ``procedure_code``,
``purpose``, ``dossier_code``, ``officer_masked``, ``officer_digest`` (the officer's
id never in clear: see :meth:`gateway.citizens.context.RequestContext.audit_detail`),
and ``request[AUDIT_VERDICT]``, the overall verdict word of a verification; the
inbound record carries them as ``detail["context"]`` and ``detail["verdict"]``.
The officer's id is not a subject of the record: it is left out of
``subject_digests`` and ``masked_ids``, which name the citizen.

Traces: every record made while a request is served names its W3C trace in
``detail``: ``trace_id`` and ``span_id`` (the request's span) on ``inbound`` and
``callback`` records, ``trace_id`` and ``span_ids`` (the ``traceparent`` span id
of each attempt) on each upstream exchange (``detail["upstream"]``, or an older
chain's ``upstream`` record); a ``webhook`` record names the
event's trace (:func:`gateway.tracing.webhook_trace_id`). ``detail`` is hashed
with the rest of the record, so the fields are covered by the chain, and
records written before they existed verify unchanged (see
:mod:`gateway.audit.record`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from aiohttp import web

from adapters.aliases import Handler, Middleware
from adapters.observability import UpstreamExchange
from adapters.tracecontext import TraceContext
from gateway.audit.log import AuditLog
from gateway.audit.null import AuditTrail
from gateway.auth.forwarded import client_address
from gateway.auth.keys import CLIENT, REQUEST_BODY
from gateway.http.access_log import operation_of
from gateway.http.context import REQUEST_ID_KEY, TRACE_KEY, UPSTREAM_EXCHANGES
from gateway.logging import ID_KEYS, mask_field
from gateway.tracing import webhook_trace_id

#: Request keys set by route handlers, read here.
AUDIT_CONTEXT: web.RequestKey[dict[str, str]] = web.RequestKey("lienthong.audit_context")
AUDIT_VERDICT = web.RequestKey("lienthong.audit_verdict", str)
#: Body keys that name the officer who asked (personal data, but not the record's subject).
OFFICER_KEYS = frozenset({"officer_id", "macanbo"})


_log = structlog.get_logger("audit")


def outcome_of(status: int) -> str:
    """``ok`` below 400, ``rejected`` for 4xx, ``error`` for 5xx."""
    if status < 400:
        return "ok"
    return "rejected" if status < 500 else "error"


def personal_ids_in(body: bytes | None) -> list[str]:
    """The personal ids a JSON request body names (``id_number``, ``payer.id_number`` …);
    not the officer's (``officer_id``: who asked, not whom it was about)."""
    if not body:
        return []
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []
    found: list[str] = []

    def take(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                k = str(key).lower()
                if k in ID_KEYS and k not in OFFICER_KEYS and isinstance(value, str | int):
                    found.append(str(value))

    take(data)
    if isinstance(data, Mapping):
        take(data.get("payer"))
    return found


def _response_body(response: web.StreamResponse) -> bytes | None:
    if isinstance(response, web.Response):
        body = response.body
        if isinstance(body, bytes | bytearray):
            return bytes(body)
    return None


def audit_middleware(audit_log: AuditLog) -> Middleware:
    """One ``inbound`` record per request, the upstream exchanges it caused folded in."""

    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        status = 500
        response_body: bytes | None = None
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects and anything problems let through
            status, response_body = exc.status, exc.body if isinstance(exc.body, bytes) else None
            raise
        else:
            status, response_body = response.status, _response_body(response)
            return response
        finally:
            await _audit_request(audit_log, request, status, response_body)

    return audit


async def _audit_request(
    audit_log: AuditLog, request: web.Request, status: int, response_body: bytes | None
) -> None:
    if not audit_log.config.enabled:
        return
    client = request.get(CLIENT)
    client_id = client.id if client is not None else None
    request_id = request.get(REQUEST_ID_KEY)
    operation = operation_of(request)
    # Only a body some layer already read within the size limit (never read here: a
    # refused, oversized or unread body is recorded without a digest).
    body = request.get(REQUEST_BODY)
    try:
        await audit_log.append(
            kind="inbound",
            operation=operation,
            outcome=outcome_of(status),
            client_id=client_id,
            status=status,
            request_id=request_id,
            request_body=body,
            response_body=response_body,
            id_numbers=personal_ids_in(body),
            detail=_inbound_detail(request),
        )
    except Exception as exc:  # the answer is already made; the failure is logged and counted
        _log.error("audit.request_not_recorded", operation=operation, error=type(exc).__name__)


def _inbound_detail(request: web.Request) -> dict[str, Any]:
    """``method``, the client address (``remote``: gateway.auth.forwarded), the trace, and
    the context and verdict the handler left on the request."""
    detail: dict[str, Any] = {
        "method": request.method,
        "remote": client_address(request),
        **_trace_detail(request.get(TRACE_KEY)),
    }
    context = request.get(AUDIT_CONTEXT)
    if isinstance(context, Mapping) and context:
        detail["context"] = {str(k): v for k, v in context.items() if isinstance(v, str)}
    verdict = request.get(AUDIT_VERDICT)
    if isinstance(verdict, str):
        detail["verdict"] = verdict
    exchanges = request.get(UPSTREAM_EXCHANGES)
    if exchanges:
        detail["upstream"] = [upstream_detail(exchange) for exchange in exchanges]
    return detail


def upstream_detail(exchange: UpstreamExchange) -> dict[str, Any]:
    """One upstream exchange as the inbound record holds it (``detail["upstream"]``): the
    fields an older chain's ``upstream`` record held, digests from ``exchange.extra``."""
    extra = exchange.extra
    out: dict[str, Any] = {
        "operation": f"{exchange.upstream}.{exchange.operation}",
        "outcome": exchange.outcome,
        "attempts": exchange.attempts,
        "fault_code": exchange.fault_code,
        "bytes_out": exchange.bytes_out,
        "bytes_in": exchange.bytes_in,
        "duration_ms": exchange.duration_ms,
    }
    for key in ("request_digest", "response_digest"):
        if (value := _str_or_none(extra.get(key))) is not None:
            out[key] = value
    if exchange.trace_id:
        out["trace_id"] = exchange.trace_id
    if exchange.span_ids:
        out["span_ids"] = list(exchange.span_ids)
    return out


def _trace_detail(trace: TraceContext | None) -> dict[str, str]:
    """``trace_id`` and ``span_id`` of a request's trace, for a record's ``detail``."""
    return {} if trace is None else {"trace_id": trace.trace_id, "span_id": trace.span_id}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def audit_webhook(
    audit_log: AuditTrail,
    *,
    client_id: str,
    event_id: str,
    event_type: str,
    outcome: str,
    body: bytes,
    status: int | None = None,
) -> None:
    """One webhook delivery attempt to a client."""
    await audit_log.append(
        kind="webhook",
        operation=f"webhook.{event_type}",
        outcome=outcome,
        client_id=client_id,
        status=status,
        request_body=body,
        detail={"event_id": event_id, "trace_id": webhook_trace_id(event_id)},
    )


def sanitise_arguments(args: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Operator arguments fit for the log: secrets dropped, names and ids masked; the ids."""
    clean = {key: mask_field(key, value) for key, value in args.items()}
    ids = [str(v) for k, v in args.items() if k.lower() in ID_KEYS and v is not None]
    return clean, ids


async def audit_operator(
    audit_log: AuditLog,
    command: str,
    args: Mapping[str, Any],
    *,
    operator: str | None = None,
    outcome: str = "ok",
    id_numbers: Iterable[str] = (),
) -> None:
    """An operator's command (``outbox retry``, ``audit archive`` …) and its arguments."""
    clean, ids = sanitise_arguments(args)
    await audit_log.append(
        kind="operator",
        operation=command,
        outcome=outcome,
        client_id=operator,
        id_numbers=[*ids, *id_numbers],
        detail={"args": clean},
    )
