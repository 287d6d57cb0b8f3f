"""Address lists at run time: parsed networks, and whether an address is inside one.

``[server] trusted_proxies`` and each payment provider's ``callback_sources``
are :data:`adapters.config.NetworkList` values, validated when the config loads.
:func:`networks` turns one into the parsed form that :func:`contains` checks an
address against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """The parsed networks of a validated :data:`NetworkList`."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def parse_address(text: str | None) -> Address | None:
    """``text`` as an IP address (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def contains(nets: Iterable[Network], address: Address | None) -> bool:
    """Whether ``address`` is inside one of ``nets`` (never for None)."""
    return address is not None and any(address in net for net in nets)
