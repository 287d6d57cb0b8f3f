"""Adapter failures that are security events, wherever the gateway meets them."""

from __future__ import annotations

from typing import Any

from adapters.errors import UpstreamCertificateRejected, UpstreamConnectionError, UpstreamTimeout
from gateway.security import events as security_events


def test_a_rejected_peer_certificate_is_a_security_event_and_other_failures_are_not() -> None:
    """report_adapter_error emits unexpected_peer_certificate only for a rejected certificate."""
    seen: list[tuple[str, dict[str, Any]]] = []
    unsubscribe = security_events.subscribe(lambda kind, fields: seen.append((kind, dict(fields))))
    try:
        security_events.report_adapter_error(UpstreamTimeout("slow", upstream="dvcqg"))
        security_events.report_adapter_error(UpstreamConnectionError("reset", upstream="dvcqg"))
        security_events.report_adapter_error(
            UpstreamCertificateRejected("pin", upstream="dvcqg", operation="query_status")
        )
    finally:
        unsubscribe()
    assert [kind for kind, _ in seen] == ["unexpected_peer_certificate"]
    assert seen[0][1]["upstream"] == "dvcqg"
    assert seen[0][1]["operation"] == "query_status"
