"""The one stream of security events: ``security.<kind>`` log events plus a counter by kind.

Everything that smells of an attack or a broken trust relation goes through
:func:`emit` so operators have one place to watch (logs) and one metric to
alert on. Fields must not carry personal ids or names in the clear (the log
masking processor is the safety net, not the plan).

Listeners (the detectors and the event recorder of :mod:`gateway.security`)
:func:`subscribe` to the stream; each is called synchronously after the event
is logged and must be cheap (count, enqueue). A failing listener is logged and
never breaks the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from prometheus_client import Counter

SECURITY_EVENTS = Counter("lienthong_security_events_total", "Security events by kind", ["kind"])

#: Called with the event kind and its fields.
SecurityListener = Callable[[str, Mapping[str, Any]], None]

_log = structlog.get_logger("security")
_listeners: list[SecurityListener] = []


def subscribe(listener: SecurityListener) -> Callable[[], None]:
    """Have ``listener`` called for every event from now on; returns the unsubscribe function."""
    _listeners.append(listener)

    def unsubscribe() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return unsubscribe


def emit(kind: str, **fields: Any) -> None:
    """Report one security event of ``kind`` (e.g. ``bad_signature``, ``replayed_request``)."""
    SECURITY_EVENTS.labels(kind).inc()
    _log.warning(f"security.{kind}", security_event=kind, **fields)
    for listener in tuple(_listeners):
        try:
            listener(kind, fields)
        except Exception:  # a broken listener must not break the request that reported
            _log.exception("security.listener_failed", security_event=kind)


def report_adapter_error(exc: BaseException) -> None:
    """The security side of an adapter's failure: a peer whose certificate was refused.

    Called wherever the gateway handles adapter errors (requests and workers alike).
    """
    from adapters.errors import UpstreamCertificateRejected

    if isinstance(exc, UpstreamCertificateRejected):
        emit("unexpected_peer_certificate", upstream=exc.upstream, operation=exc.operation)
