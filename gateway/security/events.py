"""The one stream of security events: ``security.<kind>`` log events plus a counter by kind.

Everything that smells of an attack or a broken trust relation goes through
:func:`emit` so operators have one place to watch (logs) and one metric to
alert on. Fields must not carry personal ids or names in the clear (the log
masking processor is the safety net, not the plan).

Listeners (the detectors and the event recorder of :mod:`gateway.security`)
:func:`subscribe` to the stream; each is called synchronously after the event
is logged and must be cheap (count, enqueue). A failing listener is logged and
never breaks the caller.

An event that belongs to a state change (a payment moved to ``needs_review``)
is written to the store by that change's own transaction; it is emitted after
the commit with ``stored=True``, and listeners subscribed with
``stored_too=False`` (the store recorder) are not called for it, so it is
stored once.

Every kind is a :class:`SecurityEventKind`: emitters, the detectors' tables and the
ledger's name them there. A kind's value is the string that is logged
(``security.<kind>``, field ``security_event``), counted
(``lienthong_security_events_total{kind=...}``) and stored
(``security_event_log.kind``): the wire format, never changed. Being a ``StrEnum``,
a kind compares equal to its string, so stored rows, configuration
(``[security] auth_failure_kinds``) and tests read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from prometheus_client import Counter

from gateway.security.config import AUTH_FAILURE_KINDS, BAD_CALLBACK_KINDS, SecurityEventKind

# The kinds live with the detectors' configuration (a leaf config module), re-exported here.
__all__ = ["AUTH_FAILURE_KINDS", "BAD_CALLBACK_KINDS", "SecurityEventKind"]


SECURITY_EVENTS = Counter("lienthong_security_events_total", "Security events by kind", ["kind"])

#: Called with the event kind and its fields.
SecurityListener = Callable[[SecurityEventKind, Mapping[str, Any]], None]

_log = structlog.get_logger("security")
#: Each listener with whether it also wants events already stored by their transaction.
_listeners: list[tuple[SecurityListener, bool]] = []


def subscribe(listener: SecurityListener, *, stored_too: bool = True) -> Callable[[], None]:
    """Have ``listener`` called for every event from now on; returns the unsubscribe function.

    With ``stored_too=False`` the listener is not called for events emitted with
    ``stored=True`` (already in the store).
    """
    entry = (listener, stored_too)
    _listeners.append(entry)

    def unsubscribe() -> None:
        if entry in _listeners:
            _listeners.remove(entry)

    return unsubscribe


def emit(kind: SecurityEventKind, *, stored: bool = False, **fields: Any) -> None:
    """Report one security event of ``kind`` (e.g. ``bad_signature``, ``replayed_request``).

    ``stored``: the event's row was already written in the transaction it belongs to.
    """
    SECURITY_EVENTS.labels(kind).inc()
    _log.warning(f"security.{kind}", security_event=kind, **fields)
    for listener, stored_too in tuple(_listeners):
        if stored and not stored_too:
            continue
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
        emit(
            SecurityEventKind.UNEXPECTED_PEER_CERTIFICATE,
            upstream=exc.upstream,
            operation=exc.operation,
        )
