"""Callback sources: is the sender inside the provider's configured allow-list?"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from gateway.security import events as security_events
from gateway.security.events import SecurityEventKind


def check_callback_source(provider: str, remote: str | None, allowed: Sequence[str]) -> bool:
    """True when ``remote`` is inside one of ``allowed`` (addresses or CIDR networks), or
    the list is empty; otherwise False and a ``callback_address_refused`` event."""
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        address = None
    if address is not None and any(
        address in ipaddress.ip_network(net, strict=False) for net in allowed
    ):
        return True
    security_events.emit(
        SecurityEventKind.CALLBACK_ADDRESS_REFUSED, provider=provider, remote=remote
    )
    return False
