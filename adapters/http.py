"""The one outbound HTTP stack: aiohttp sessions, TLS, pools, bounded reads.

Every adapter gets its session from :func:`make_session` so that TLS, pool
limits and the request-id and trace headers (:func:`outbound_headers`: ``X-Request-ID``
and a W3C ``traceparent`` with a new span id per call) are set in one place. Bodies are always read
through :func:`read_limited`, so a hostile or broken peer cannot make the
gateway buffer an unbounded reply.
"""

from __future__ import annotations

import contextvars
import ssl
from dataclasses import dataclass

import aiohttp

from adapters import tracecontext
from adapters.config import TLSFiles
from adapters.errors import (
    UpstreamBadReply,
    UpstreamCertificateRejected,
    UpstreamConnectionError,
)

#: The inbound request id; the gateway sets it, adapters forward it upstream.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "lienthong_request_id", default=None
)
REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class PoolLimits:
    max_connections: int = 100
    keepalive_timeout: float = 30.0


def client_ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    if not tls.verify:  # only ever for a sandbox on loopback; check-config refuses it in production
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_session(
    *,
    tls: TLSFiles | None = None,
    limits: PoolLimits | None = None,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientSession:
    """A client session for one upstream. Timeouts are set per call by the resilience policy."""
    limits = limits or PoolLimits()
    verification: ssl.SSLContext | aiohttp.Fingerprint | bool = True
    if tls is not None:
        pin = tls.fingerprint()
        verification = aiohttp.Fingerprint(pin) if pin else client_ssl_context(tls)
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections,
        keepalive_timeout=limits.keepalive_timeout,
        ssl=verification,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=None),  # the policy's deadline governs
        raise_for_status=False,
        auto_decompress=True,
    )


def outbound_headers() -> dict[str, str]:
    """Headers every outbound call (each attempt) carries.

    The request id, when there is one, and ``traceparent`` (plus ``tracestate`` when the
    caller sent one): the current trace with a new span id for this call, or a trace of
    its own outside a request (:func:`adapters.tracecontext.outbound_headers`).
    """
    headers = tracecontext.outbound_headers()
    rid = REQUEST_ID.get()
    if rid:
        headers[REQUEST_ID_HEADER] = rid
    return headers


async def read_limited(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """Read a response body, refusing more than ``max_bytes`` (declared or actual)."""
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        raise UpstreamBadReply(f"reply of {declared} bytes exceeds the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise UpstreamBadReply(f"reply exceeds the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


_CERTIFICATE_ERRORS = (aiohttp.ServerFingerprintMismatch, aiohttp.ClientConnectorCertificateError)


def connection_failure(
    exc: BaseException,
    detail: str,
    *,
    upstream: str | None = None,
    operation: str | None = None,
    url: str | None = None,
) -> UpstreamConnectionError:
    """The adapter error for a failed connection: a rejected certificate is told apart.

    ``url`` (what was tried) is kept on the error for operators' messages: ``str()``
    names it, the API's problem detail does not.
    """
    if isinstance(exc, _CERTIFICATE_ERRORS):
        return UpstreamCertificateRejected(
            f"{detail}: the peer's certificate was rejected ({type(exc).__name__})",
            upstream=upstream,
            operation=operation,
            url=url,
        )
    return UpstreamConnectionError(detail, upstream=upstream, operation=operation, url=url)
