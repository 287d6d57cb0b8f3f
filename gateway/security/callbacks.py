"""Callback sources: is the sender inside the provider's configured allow-list?

Each provider's ``callback_sources`` (``[upstreams.vnpay.adapter]``,
``[upstreams.dvcqg.adapter]``) lists the networks its callbacks come from.
:class:`~gateway.payments.service.PaymentService` asks :func:`check_callback_source`
before it reads a callback, with the client
address of :mod:`gateway.auth.forwarded`; a refused callback is answered as the
provider's "refused" and raises ``callback_address_refused``. Empty lists accept
any sender (the checksum still decides), which :func:`callback_source_warnings`
points out for providers that are not a sandbox on loopback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from urllib.parse import urlsplit

from adapters.networks import Network, contains, networks, parse_address
from gateway.security import events as security_events
from gateway.security.events import SecurityEventKind


def check_callback_source(
    provider: str, remote: str | None, allowed: Iterable[str | Network]
) -> bool:
    """True when ``remote`` is inside one of ``allowed`` (addresses or CIDR networks), or
    the list is empty; otherwise False and a ``callback_address_refused`` event."""
    nets = tuple(networks([net])[0] if isinstance(net, str) else net for net in allowed)
    if not nets or contains(nets, parse_address(remote)):
        return True
    security_events.emit(
        SecurityEventKind.CALLBACK_ADDRESS_REFUSED, provider=provider, remote=remote
    )
    return False


class _ProviderSection(Protocol):
    @property
    def callback_sources(self) -> tuple[str, ...]: ...


def _is_loopback_url(url: str) -> bool:
    address = parse_address((urlsplit(url).hostname or "").strip("[]"))
    return address is not None and address.is_loopback


def callback_source_warnings(
    providers: Iterable[tuple[str, _ProviderSection | None, str]], *, production: bool
) -> list[str]:
    """One warning per provider, ``(name, section, endpoint URL)``, whose callbacks are
    accepted from anywhere while it is not a sandbox on loopback (or in production)."""
    warnings = []
    for name, section, url in providers:
        if section is None or section.callback_sources:
            continue
        if production or not _is_loopback_url(url):
            warnings.append(
                f"upstreams.{name}.adapter.callback_sources is empty: callbacks are accepted"
                " from any address (the checksum alone decides); list the provider's networks"
            )
    return warnings
