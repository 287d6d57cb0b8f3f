"""The one stream of security events: ``security.<kind>`` log events plus a counter by kind.

Everything that smells of an attack or a broken trust relation goes through
:func:`emit` so operators have one place to watch (logs) and one metric to
alert on. Fields must not carry personal ids or names in the clear (the log
masking processor is the safety net, not the plan).
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter

SECURITY_EVENTS = Counter(
    "lienthong_security_events_total", "Security events by kind", ["kind"]
)

_log = structlog.get_logger("security")


def emit(kind: str, **fields: Any) -> None:
    """Report one security event of ``kind`` (e.g. ``bad_signature``, ``replayed_request``)."""
    SECURITY_EVENTS.labels(kind).inc()
    _log.warning(f"security.{kind}", security_event=kind, **fields)
