"""The client's address: the TCP peer, or ``X-Forwarded-For`` when the peer is a trusted proxy.

Behind a load balancer every connection comes from the balancer, so rate
limits, security events, the audit log, a payment's ``client_ip`` and the
callback source allow-list would all see one address. With ``[server]
trusted_proxies`` (CIDRs; empty by default) the gateway believes
``X-Forwarded-For`` only from those peers, and takes from it the rightmost
address that is not itself a trusted proxy (each proxy appends the address it
saw, so the entries to its left are whatever the client claimed). A peer outside
the list, or a request without the header, keeps the peer's address. A malformed
header from a trusted proxy is a warning (``client_address.malformed_forwarded_for``)
and the peer's address, never an error.

:func:`client_address` computes it once per request (the request context
middleware calls it first) and every user of the address calls it.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from aiohttp import web

from adapters.networks import Address, Network, contains, parse_address
from gateway.appkeys import TRUSTED_PROXIES
from gateway.errors import InvalidValue

#: The request's client address, once computed (``request[CLIENT_ADDRESS]``).
CLIENT_ADDRESS: web.RequestKey[str | None] = web.RequestKey("client_address")

_log = structlog.get_logger("gateway.client_address")


class MalformedForwardedFor(InvalidValue):
    """An ``X-Forwarded-For`` entry that is not an IP address."""


def _entry(text: str) -> Address:
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):  # a bracketed IPv6 address
        value = value[1:-1]
    address = parse_address(value)
    if address is None:
        raise MalformedForwardedFor(f"{text.strip()[:64]!r} is not an IP address")
    return address


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str | None:
    """The client address from the peer and the ``X-Forwarded-For`` header lines.

    Raises :class:`MalformedForwardedFor` when the peer is trusted and an entry
    it had to read is not an address. Entries left of the answer are not read.
    """
    if not trusted or not contains(trusted, parse_address(peer)):
        return peer
    entries = [part for line in forwarded_for for part in line.split(",")]
    chosen: Address | None = None
    for text in reversed(entries):
        chosen = _entry(text)
        if not contains(trusted, chosen):
            return str(chosen)
    # Only trusted proxies (or no header): the leftmost one is the best we know.
    return str(chosen) if chosen is not None else peer


def client_address(request: web.Request) -> str | None:
    """The request's client address (see the module docstring); computed once, then kept."""
    if CLIENT_ADDRESS in request:
        return request[CLIENT_ADDRESS]
    peer = request.remote
    trusted = request.config_dict.get(TRUSTED_PROXIES, ())
    try:
        address = forwarded_client(peer, request.headers.getall("X-Forwarded-For", ()), trusted)
    except MalformedForwardedFor as exc:
        _log.warning("client_address.malformed_forwarded_for", peer=peer, problem=str(exc))
        address = peer
    request[CLIENT_ADDRESS] = address
    return address
