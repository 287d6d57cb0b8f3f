"""W3C Trace Context on the wire: parsing, ids, and the ``traceparent`` of each outbound call.

The adapters' half of tracing (the gateway's half, inbound requests, log binding,
``traceresponse`` and export, is :mod:`gateway.tracing`; adapters never import the
gateway):

* :func:`parse_traceparent` / :func:`parse_tracestate` validate headers per W3C Trace
  Context Level 1: version ``00`` exactly 55 characters; a later version (never ``ff``)
  read for its first four fields, its extra fields after a ``-`` at position 55 ignored;
  lowercase hex only; trace id and parent id not all zeros. Anything else is None: the
  caller of these functions starts a new trace, never answers an error.
* :data:`CURRENT` holds the trace of the unit of work (an inbound request).
  :func:`outbound_headers` makes a new span id for each outbound call with the same trace
  id and flags, forwarding ``tracestate``; with no current trace (pollers,
  reconciliation, operator commands) each call starts a trace of its own.
* The span ids sent are remembered per task until the adapter records its upstream
  exchange (:func:`take_outbound_spans`, called by
  :func:`adapters.observability.record_exchange`), so each exchange's operational and
  audit records name the span ids the national system received. The tuple is immutable,
  so concurrent calls of one request in sibling tasks never mix their spans.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

#: Trace flag bits: ``sampled`` (Level 1) and ``random`` (Level 2: the trace id is random).
SAMPLED = 0x01
RANDOM = 0x02

_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_HEX2 = re.compile(r"[0-9a-f]{2}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
# tracestate list members (W3C Trace Context, section 3.3.1): key "=" value.
_TS_KEY = re.compile(
    r"[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13}"
)
_TS_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_TRACESTATE_MAX_MEMBERS = 32
_TRACESTATE_MAX_CHARS = 512


@dataclass(frozen=True)
class ParentContext:
    """A valid ``traceparent`` as received: the caller's trace, span and flags."""

    trace_id: str
    parent_id: str
    flags: int


@dataclass(frozen=True)
class OutboundSpan:
    """One outbound call's trace and span id, as sent in its ``traceparent``."""

    trace_id: str
    span_id: str


@dataclass(frozen=True)
class TraceContext:
    """The trace of the current unit of work (one inbound request)."""

    trace_id: str
    #: This unit's own span (the request's server span).
    span_id: str
    flags: int
    #: The caller's span, when the trace came in with the request.
    parent_id: str | None = None
    #: The caller's ``tracestate``, forwarded unchanged (None when absent or invalid).
    tracestate: str | None = None
    #: Wall clock at the start, nanoseconds since the epoch (for export).
    start_ns: int = 0

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    def traceparent(self, span_id: str | None = None) -> str:
        """``00-{trace}-{span}-{flags}`` for this span (or for the given child span)."""
        return f"00-{self.trace_id}-{span_id or self.span_id}-{self.flags:02x}"


def new_trace_id() -> str:
    """A random trace id: 32 lowercase hex digits, never all zeros."""
    while True:
        value = secrets.token_hex(16)
        if value != _ZERO_TRACE:
            return value


def new_span_id() -> str:
    """A random span id: 16 lowercase hex digits, never all zeros."""
    while True:
        value = secrets.token_hex(8)
        if value != _ZERO_SPAN:
            return value


def parse_traceparent(value: str | None) -> ParentContext | None:
    """A ``traceparent`` header per W3C Trace Context, or None when it is not valid."""
    if value is None:
        return None
    value = value.strip(" \t")  # optional whitespace around a field value (RFC 9110)
    if len(value) < 55:
        return None
    version = value[:2]
    if not _HEX2.fullmatch(version) or version == "ff":
        return None
    if version == "00":
        if len(value) != 55:
            return None
    elif len(value) > 55 and value[55] != "-":
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id, parent_id, flags = value[3:35], value[36:52], value[53:55]
    if not (_HEX32.fullmatch(trace_id) and _HEX16.fullmatch(parent_id) and _HEX2.fullmatch(flags)):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return ParentContext(trace_id, parent_id, int(flags, 16))


def parse_tracestate(values: Iterable[str]) -> str | None:
    """The combined ``tracestate`` (several headers join with ``,``), or None when invalid.

    Empty list members are allowed and dropped; at most 32 members with unique keys, each
    ``key=value`` per the spec's grammar, at most 512 characters in all.
    """
    members: list[str] = []
    keys: set[str] = set()
    for header in values:
        for raw in header.split(","):
            member = raw.strip(" \t")
            if not member:
                continue
            key, sep, val = member.partition("=")
            if not sep or not _TS_KEY.fullmatch(key) or not _TS_VALUE.fullmatch(val):
                return None
            if key in keys:
                return None
            keys.add(key)
            members.append(member)
    if not members or len(members) > _TRACESTATE_MAX_MEMBERS:
        return None
    combined = ",".join(members)
    return combined if len(combined) <= _TRACESTATE_MAX_CHARS else None


#: The trace of the current unit of work; :mod:`gateway.tracing` sets it per request.
CURRENT: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "lienthong_trace", default=None
)
_OUTBOUND: contextvars.ContextVar[tuple[OutboundSpan, ...]] = contextvars.ContextVar(
    "lienthong_outbound_spans", default=()
)


class _Sampling:
    """Whether traces started here are sampled (set by :mod:`gateway.tracing` when exporting)."""

    new_traces_sampled = False


SAMPLING = _Sampling()


def new_trace_flags() -> int:
    """Flags of a trace started here: random id; sampled when spans are exported."""
    return RANDOM | (SAMPLED if SAMPLING.new_traces_sampled else 0)


def outbound_headers() -> dict[str, str]:
    """``traceparent`` (a new span id, the current trace) and ``tracestate`` for one call."""
    trace = CURRENT.get()
    span_id = new_span_id()
    if trace is None:  # background work: each call is a trace of its own
        trace = TraceContext(new_trace_id(), span_id, new_trace_flags())
    _OUTBOUND.set((*_OUTBOUND.get(), OutboundSpan(trace.trace_id, span_id)))
    headers = {TRACEPARENT: trace.traceparent(span_id)}
    if trace.tracestate:
        headers[TRACESTATE] = trace.tracestate
    return headers


def take_outbound_spans() -> tuple[OutboundSpan, ...]:
    """The span ids sent in this task since the last call; the next call starts afresh."""
    spans = _OUTBOUND.get()
    _OUTBOUND.set(())
    return spans


def reset_outbound_spans() -> None:
    """Forget spans sent so far in this context (at the start of a request)."""
    _OUTBOUND.set(())
