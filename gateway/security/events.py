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

import enum
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from prometheus_client import Counter


class SecurityEventKind(enum.StrEnum):
    """What happened, in one word; grouped as the detectors count them."""

    # -- inbound authentication and authorisation (the auth middlewares) --
    AUTH_FAILED = "auth_failed"
    UNKNOWN_CLIENT = "unknown_client"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED_REQUEST = "replayed_request"
    STALE_REQUEST = "stale_request"
    NONCE_STORE_FULL = "nonce_store_full"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    # -- provider callbacks and the payer's return (the payment service) --
    BAD_CALLBACK = "bad_callback"
    BAD_CALLBACK_CHECKSUM = "bad_callback_checksum"
    BAD_CALLBACK_PARTNER = "bad_callback_partner"
    MALFORMED_CALLBACK = "malformed_callback"
    CALLBACK_ADDRESS_REFUSED = "callback_address_refused"
    BAD_RETURN_CHECKSUM = "bad_return_checksum"
    MALFORMED_RETURN = "malformed_return"
    # -- provider and gateway disagree about money (the ledger) --
    AMOUNT_MISMATCH = "amount_mismatch"
    LATE_PAYMENT = "late_payment"
    FLAGGED_BY_PROVIDER = "flagged_by_provider"
    REVERSED_BY_PROVIDER = "reversed_by_provider"
    REFUNDED_BY_PROVIDER = "refunded_by_provider"
    RESULT_AFTER_PAID = "result_after_paid"
    # -- certificates (the certificate watch, the adapters' TLS) --
    CERTIFICATE_EXPIRING = "certificate_expiring"
    UNEXPECTED_PEER_CERTIFICATE = "unexpected_peer_certificate"
    # -- the detectors' own output --
    ALERT = "alert"


#: Events that count as authentication failures (the auth middleware's kinds).
AUTH_FAILURE_KINDS: tuple[SecurityEventKind, ...] = (
    SecurityEventKind.AUTH_FAILED,
    SecurityEventKind.UNKNOWN_CLIENT,
    SecurityEventKind.BAD_SIGNATURE,
    SecurityEventKind.REPLAYED_REQUEST,
    SecurityEventKind.STALE_REQUEST,
)
#: Callback events that count towards the bad-callback surge.
BAD_CALLBACK_KINDS: tuple[SecurityEventKind, ...] = (SecurityEventKind.BAD_CALLBACK_CHECKSUM,)


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
