"""Address lists in configuration: CIDR networks, validated when the config loads.

``[server] trusted_proxies`` and each payment provider's ``callback_sources``
are :data:`NetworkList` values: a list of networks (``"10.0.0.0/8"``) or single
addresses (``"127.0.0.1"``), each checked by :func:`ipaddress.ip_network`
(host bits allowed, so ``"10.1.2.3/8"`` means ``10.0.0.0/8``). :func:`networks`
turns one into the parsed form that :func:`contains` checks an address against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _valid_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network") from None
    return values


#: A configured list of CIDR networks or addresses (empty: none).
NetworkList = Annotated[tuple[str, ...], AfterValidator(_valid_networks)]


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
