"""W3C Trace Context: the trace of each request, propagated upstream and into every log line.

What the gateway does with a trace (W3C Trace Context Level 1, and ``traceresponse`` of
Level 2). The wire format and the outbound half live in :mod:`adapters.tracecontext`
(adapters never import the gateway); this module is the inbound half, the log binding,
the webhook trace and the export.

* **In.** ``traceparent`` (and ``tracestate``) from a caller is accepted when it is
  valid per the spec (:func:`adapters.tracecontext.parse_traceparent`): version ``00``
  exactly 55 characters; a later version (not ``ff``) read for its first four fields;
  lowercase hex only; a trace id and a parent id that are not all zeros. An invalid,
  repeated or absent ``traceparent`` starts a new trace, never an error (its
  ``tracestate`` is dropped with it, as the spec says). Each inbound request is a span
  of its own: the caller's trace id, a new span id, the caller's span id its parent.
* **Log lines.** :func:`start_request` binds ``trace_id`` and ``span_id`` (the
  request's span) into structlog's context variables beside ``request_id``: every line
  the request logs carries them.
* **Out.** :func:`adapters.http.outbound_headers` (every adapter, once per attempt)
  sends the trace with a new span id per call and forwards ``tracestate``; outside a
  request (pollers, reconciliation, operator commands) each call starts a trace of its
  own. The span ids an exchange sent go into its operational and audit records.
  Webhooks carry :func:`webhook_headers`: a trace derived from the event id, so every
  attempt at one event shares a trace id, with a new span id per attempt.
* **Back.** The answer carries ``traceresponse: 00-{trace id}-{request's span id}-{flags}``.
* **Export.** With ``[tracing] otlp_endpoint`` set and the optional extra installed
  (``pip install .[tracing]``), :class:`OtlpExport` sends one server span per sampled
  request and one client span per upstream exchange over OTLP/HTTP. Without the extra,
  everything above still works, and :func:`tracing_problems` (``check-config``, and a
  ``tracing.export_unavailable`` line at start-up) says in one line that export is off.

Sampling is parent-based: a trace the gateway starts is sampled (flag ``01``) when export
is on; a caller's sampled flag is kept and obeyed. Trace ids the gateway makes are random
and say so with Level 2's ``random`` flag (``02``).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import structlog
from aiohttp import web

from adapters.observability import UpstreamExchange
from adapters.tracecontext import (
    CURRENT,
    SAMPLED,
    SAMPLING,
    TRACEPARENT,
    TRACESTATE,
    TraceContext,
    new_span_id,
    new_trace_flags,
    new_trace_id,
    parse_traceparent,
    parse_tracestate,
    reset_outbound_spans,
)
from gateway.config import TracingConfig

TRACERESPONSE = "traceresponse"

_log = structlog.get_logger("gateway.tracing")


_export: OtlpExport | None = None
_ZERO_TRACE = "0" * 32


def exporting() -> bool:
    """Whether spans are exported (an OTLP endpoint is set and the SDK is installed)."""
    return _export is not None


def context_from_headers(headers: Mapping[str, str] | Any) -> TraceContext:
    """The trace for an inbound request: the caller's when its ``traceparent`` is valid."""
    getall = getattr(headers, "getall", None)
    parents = list(getall(TRACEPARENT, [])) if getall else [headers.get(TRACEPARENT)]
    parents = [p for p in parents if p is not None]
    parent = parse_traceparent(parents[0]) if len(parents) == 1 else None
    start_ns = time.time_ns()
    if parent is None:
        return TraceContext(new_trace_id(), new_span_id(), new_trace_flags(), start_ns=start_ns)
    states = list(getall(TRACESTATE, [])) if getall else [headers.get(TRACESTATE) or ""]
    return TraceContext(
        parent.trace_id,
        new_span_id(),
        parent.flags,
        parent_id=parent.parent_id,
        tracestate=parse_tracestate(s for s in states if s),
        start_ns=start_ns,
    )


def start_request(headers: Mapping[str, str] | Any) -> tuple[TraceContext, contextvars.Token[Any]]:
    """Make the inbound request's trace current and bind it into the log context."""
    trace = context_from_headers(headers)
    token = CURRENT.set(trace)
    reset_outbound_spans()
    structlog.contextvars.bind_contextvars(trace_id=trace.trace_id, span_id=trace.span_id)
    return trace, token


def end_request(token: contextvars.Token[Any]) -> None:
    """Restore the trace that was current before :func:`start_request`."""
    CURRENT.reset(token)


def current() -> TraceContext | None:
    """The current unit of work's trace (None outside a request)."""
    return CURRENT.get()


def traceresponse(trace: TraceContext) -> str:
    """The ``traceresponse`` value (Level 2): the trace and the span that served the request."""
    return trace.traceparent()


def webhook_trace_id(event_id: str) -> str:
    """The trace of a webhook event: derived from its id, the same for every attempt."""
    value = hashlib.sha256(f"lienthong-webhook:{event_id}".encode()).hexdigest()[:32]
    return value if value != _ZERO_TRACE else "1".rjust(32, "0")


def webhook_headers(event_id: str) -> dict[str, str]:
    """``traceparent`` for one webhook delivery attempt (a new span id each time)."""
    flags = SAMPLED if exporting() else 0
    return {TRACEPARENT: f"00-{webhook_trace_id(event_id)}-{new_span_id()}-{flags:02x}"}


# --- export over OTLP (optional) -------------------------------------------------------


def sdk_available() -> bool:
    """Whether the optional extra (``pip install .[tracing]``) is installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def tracing_problems(config: TracingConfig) -> list[str]:
    """What keeps the configured export from working (one line each; empty when fine)."""
    if config.otlp_endpoint and not sdk_available():
        return [
            "tracing.otlp_endpoint: set, but the OpenTelemetry SDK is not installed"
            " (pip install 'lienthong[tracing]'); spans are not exported, trace"
            " propagation and log correlation still work"
        ]
    return []


class OtlpExport:
    """Spans built from the gateway's own trace and span ids, batched to an OTLP/HTTP endpoint.

    The SDK's tracer makes its own ids; the gateway's ids are the ones already sent in
    ``traceparent`` and logged, so finished spans are built directly
    (``ReadableSpan``) and handed to a ``BatchSpanProcessor``.
    """

    def __init__(self, config: TracingConfig) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        assert config.otlp_endpoint is not None
        self._resource = Resource.create({"service.name": config.service_name})
        self._processor: Any = BatchSpanProcessor(
            OTLPSpanExporter(
                endpoint=config.otlp_endpoint, timeout=int(config.otlp_timeout_seconds)
            )
        )

    def span(
        self,
        trace: TraceContext,
        *,
        name: str,
        span_id: str,
        parent_id: str | None,
        start_ns: int,
        end_ns: int,
        server: bool,
        error: bool,
        attributes: Mapping[str, str | int | float | bool],
    ) -> None:
        """Queue one finished span for export."""
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        def context(sid: str, remote: bool) -> SpanContext:
            return SpanContext(
                int(trace.trace_id, 16),
                int(sid, 16),
                is_remote=remote,
                trace_flags=TraceFlags(trace.flags & 0xFF),
            )

        self._processor.on_end(
            ReadableSpan(
                name=name,
                context=context(span_id, False),
                parent=context(parent_id, True) if parent_id else None,
                resource=self._resource,
                attributes=dict(attributes),
                kind=SpanKind.SERVER if server else SpanKind.CLIENT,
                status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
                start_time=start_ns,
                end_time=max(end_ns, start_ns),
            )
        )

    def shutdown(self) -> None:
        """Send what is queued and stop."""
        self._processor.shutdown()

    def flush(self, timeout_millis: int = 5000) -> bool:
        return bool(self._processor.force_flush(timeout_millis))


def configure_export(config: TracingConfig) -> OtlpExport | None:
    """Start (or stop) span export for this process, per ``config``; says why when it cannot."""
    global _export
    stop_export()
    if not config.otlp_endpoint:
        return None
    for problem in tracing_problems(config):
        _log.warning("tracing.export_unavailable", problem=problem)
        return None
    _export = OtlpExport(config)
    SAMPLING.new_traces_sampled = True
    _log.info("tracing.export_started", otlp_endpoint=config.otlp_endpoint)
    return _export


def export_ctx(
    config: TracingConfig,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp ``cleanup_ctx`` entry: span export for the app's lifetime, flushed at stop."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        configure_export(config)
        try:
            yield
        finally:
            await asyncio.to_thread(stop_export)  # the last batch, off the event loop

    return ctx


def stop_export() -> None:
    """Flush and stop span export (at shutdown)."""
    global _export
    SAMPLING.new_traces_sampled = False
    if _export is not None:
        _export.shutdown()
        _export = None


def export_request(
    trace: TraceContext,
    *,
    name: str,
    method: str,
    path: str,
    status: int,
    exchanges: Iterable[UpstreamExchange],
) -> None:
    """Export the request's server span and one client span per upstream exchange, if on."""
    export = _export
    if export is None or not trace.sampled:
        return
    end_ns = time.time_ns()
    export.span(
        trace,
        name=name,
        span_id=trace.span_id,
        parent_id=trace.parent_id,
        start_ns=trace.start_ns,
        end_ns=end_ns,
        server=True,
        error=status >= 500,
        attributes={
            "http.request.method": method,
            "url.path": path,
            "http.response.status_code": status,
        },
    )
    for ex in exchanges:
        spans = ex.span_ids
        if not spans:
            continue
        export.span(
            trace,
            name=f"{ex.upstream}.{ex.operation}",
            span_id=spans[-1],
            parent_id=trace.span_id,
            start_ns=int(ex.request_out * 1e9),
            end_ns=int(ex.response_in * 1e9),
            server=False,
            error=ex.outcome != "ok",
            attributes={
                "lienthong.upstream": ex.upstream,
                "lienthong.outcome": ex.outcome,
                "lienthong.attempts": ex.attempts,
            },
        )


__all__ = [
    "TRACERESPONSE",
    "OtlpExport",
    "configure_export",
    "context_from_headers",
    "current",
    "end_request",
    "export_ctx",
    "export_request",
    "exporting",
    "sdk_available",
    "start_request",
    "stop_export",
    "traceresponse",
    "tracing_problems",
    "webhook_headers",
    "webhook_trace_id",
]
