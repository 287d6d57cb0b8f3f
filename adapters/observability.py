"""What an adapter reports about each upstream exchange.

Every adapter wraps each logical upstream call (all its attempts) in
:func:`upstream_exchange`, which tallies attempts and bytes, names the outcome,
tags the error with its upstream and operation, and calls :func:`record_exchange`
once; each attempt's aiohttp failures become the :mod:`adapters.errors` tree in
:func:`map_aiohttp_errors` (as httpx's ``map_httpcore_exceptions`` does).

The gateway collects the records of one inbound request through a
context variable and nests each exchange's operational record in the request's
access line, with the four timestamps (request in, request out, response in,
response out), as X-Road keeps them; outside a request an exchange is counted in
the metrics only. Each record also names the trace and the span ids its attempts sent in
``traceparent`` (:mod:`adapters.tracecontext`), so the national system's own logs can be
matched to it. Prometheus metrics for upstream calls live here too, since every
adapter shares them.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client import Counter, Histogram

from adapters import tracecontext
from adapters.errors import (
    AdapterError,
    CircuitOpen,
    UpstreamBadReply,
    UpstreamFault,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.http import connection_failure

#: Label children already made, by metric and label values; bounded, so a label that turns
#: out not to be a small fixed set costs the uncached lookup, never memory.
_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}
MAX_CACHED_CHILDREN = 4096


def label_child(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, remembered: the hot path's metrics have few label values,
    and prometheus_client's ``labels`` validates and locks on every call."""
    key = (id(metric), values)
    child = _CHILDREN.get(key)
    if child is None:
        child = metric.labels(*values)
        if len(_CHILDREN) < MAX_CACHED_CHILDREN:
            _CHILDREN[key] = child
    return child


UPSTREAM_CALLS = Counter(
    "lienthong_upstream_calls_total",
    "Upstream calls by upstream, operation and outcome",
    ["upstream", "operation", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "lienthong_upstream_call_seconds",
    "Upstream call latency (all attempts of one logical call)",
    ["upstream", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@dataclass
class UpstreamExchange:
    """One logical call to a national system (all its attempts)."""

    upstream: str
    operation: str
    request_out: float  # wall clock, seconds since the epoch
    response_in: float
    bytes_out: int = 0
    bytes_in: int = 0
    outcome: str = "ok"  # ok | not_found | fault | timeout | unavailable | circuit_open | …
    fault_code: str | None = None
    attempts: int = 1
    extra: dict[str, object] = field(default_factory=dict)
    #: The trace the attempts were sent in, and each attempt's span id (``traceparent``);
    #: filled by :func:`record_exchange` from what this task sent since the last exchange.
    trace_id: str | None = None
    span_ids: tuple[str, ...] = ()

    @property
    def duration_ms(self) -> float:
        return round((self.response_in - self.request_out) * 1000, 3)


_exchanges: contextvars.ContextVar[list[UpstreamExchange] | None] = contextvars.ContextVar(
    "lienthong_upstream_exchanges", default=None
)


def collect_exchanges() -> list[UpstreamExchange]:
    """Start collecting exchanges in the current context; returns the list that fills."""
    bucket: list[UpstreamExchange] = []
    _exchanges.set(bucket)
    return bucket


def record_exchange(exchange: UpstreamExchange) -> None:
    """Report one exchange: metrics always, and to the collecting request if any.

    Claims the outbound span ids this task sent since the previous exchange (its
    attempts, and a token fetch they needed) unless the adapter set them already.
    """
    sent = tracecontext.take_outbound_spans()
    if not exchange.span_ids and sent:
        exchange.span_ids = tuple(s.span_id for s in sent)
        exchange.trace_id = exchange.trace_id or sent[-1].trace_id
    if exchange.trace_id is None and (trace := tracecontext.CURRENT.get()) is not None:
        exchange.trace_id = trace.trace_id
    label_child(UPSTREAM_CALLS, exchange.upstream, exchange.operation, exchange.outcome).inc()
    label_child(UPSTREAM_LATENCY, exchange.upstream, exchange.operation).observe(
        max(exchange.response_in - exchange.request_out, 0.0)
    )
    bucket = _exchanges.get()
    if bucket is not None:
        bucket.append(exchange)


def wall_clock() -> float:
    return time.time()


#: The exchange's ``outcome`` by error, most specific first (anything else is ``error``).
_OUTCOMES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (CircuitOpen, "circuit_open"),  # refused by the breaker, never sent: the report counts it
    (UpstreamUnavailable, "unavailable"),
    ((UpstreamTimeout, TimeoutError), "timeout"),
    (UpstreamFault, "fault"),
    (UpstreamBadReply, "bad_reply"),
)


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` an exchange that ended in ``exc`` is recorded with."""
    for kind, outcome in _OUTCOMES:
        if isinstance(exc, kind):
            return outcome
    return "error"


@dataclass
class ExchangeTally:
    """What the attempts of one logical call add up to; the adapter fills it as they run.

    ``outcome`` stays ``ok`` unless the adapter says otherwise (``not_found``) or the
    call fails; ``exchange`` is the record, once the call is over.
    """

    attempts: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    fault_code: str | None = None
    outcome: str = "ok"
    exchange: UpstreamExchange | None = None


@contextlib.contextmanager
def upstream_exchange(
    upstream: str, operation: str, *, clock: Callable[[], float] | None = None
) -> Iterator[ExchangeTally]:
    """One logical upstream call: yields its tally, records it once, whatever happens.

    An :class:`~adapters.errors.AdapterError` leaving the block is tagged with
    ``upstream`` and ``operation`` (where it names none) and its ``code`` becomes the
    fault code (unless an attempt set one); any exception sets the outcome.
    """
    now = clock or wall_clock
    tally = ExchangeTally()
    started = now()
    try:
        yield tally
    except AdapterError as exc:
        exc.upstream = exc.upstream or upstream
        exc.operation = exc.operation or operation
        tally.fault_code = tally.fault_code or getattr(exc, "code", None)
        tally.outcome = outcome_of(exc)
        raise
    except BaseException as exc:
        tally.outcome = outcome_of(exc)
        raise
    finally:
        tally.exchange = UpstreamExchange(
            upstream=upstream,
            operation=operation,
            request_out=started,
            response_in=now(),
            bytes_out=tally.bytes_out,
            bytes_in=tally.bytes_in,
            outcome=tally.outcome,
            fault_code=tally.fault_code,
            attempts=max(tally.attempts, 1),
        )
        record_exchange(tally.exchange)


@contextlib.contextmanager
def map_aiohttp_errors(
    *,
    upstream: str,
    operation: str,
    url: str,
    timeout_detail: str,
    failure_detail: str = "{error}",
    timeouts: tuple[type[BaseException], ...] = (TimeoutError,),
    failures: tuple[type[BaseException], ...] = (aiohttp.ClientError,),
) -> Iterator[None]:
    """One attempt's transport failures as adapter errors: a timeout, or a failed connection.

    ``failure_detail`` is formatted with ``error``, the aiohttp exception's class name
    (never its message: it may quote the peer). A rejected certificate is told apart
    (:func:`adapters.http.connection_failure`). An adapter error raised inside (a
    bounded read's) is tagged with ``upstream`` and ``operation`` where it names none.
    """
    try:
        yield
    except AdapterError as exc:
        exc.upstream = exc.upstream or upstream
        exc.operation = exc.operation or operation
        raise
    except timeouts as exc:
        raise UpstreamTimeout(timeout_detail, upstream=upstream, operation=operation) from exc
    except failures as exc:
        detail = failure_detail.format(error=type(exc).__name__)
        raise connection_failure(
            exc, detail, upstream=upstream, operation=operation, url=url
        ) from exc
