"""The gateway's TLS listener: server certificate, client certificates from the city CA.

With ``require_client_cert`` the handshake itself refuses a client without a
certificate; without it, the certificate is optional (a client may sign its
requests instead) but one that is presented must chain to ``client_ca_file``.
A certificate from another CA fails the handshake in both modes.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.auth.clients import ClientConfig, ClientRegistry


def server_ssl_context(
    cert_file: str | Path,
    key_file: str | Path,
    client_ca_file: str | Path,
    *,
    require_client_cert: bool = True,
) -> ssl.SSLContext:
    """A TLS ≥ 1.2 server context that verifies client certificates against ``client_ca_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def _common_name(peer_certificate: dict[str, Any]) -> str | None:
    for rdn in peer_certificate.get("subject", ()):
        for attribute, value in rdn:
            if attribute == "commonName":
                return str(value)
    return None


def peer_certificate_cn(request: web.Request) -> str | None:
    """The subject CN of the verified client certificate on this connection, if any."""
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    # getpeercert() returns a (non-empty) dict only for a certificate the context verified.
    peer_certificate = ssl_object.getpeercert()
    if not peer_certificate:
        return None
    return _common_name(peer_certificate)


def client_from_peer_certificate(
    request: web.Request, registry: ClientRegistry
) -> ClientConfig | None:
    """The client whose certificate CN this connection presented; None without a known one."""
    cn = peer_certificate_cn(request)
    return registry.by_certificate_cn(cn) if cn is not None else None
