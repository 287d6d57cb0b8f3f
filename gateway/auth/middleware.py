"""aiohttp middlewares for the client side of the gateway, one concern each.

Order in the app (``gateway/app.py``): request context → audit → problems →
:func:`authentication_middleware` → :func:`authorization_middleware` →
:func:`rate_limit_middleware` → request volume → handler. Each raises a
:class:`~gateway.problems.Problem`; the problem middleware (outside these three)
turns it into ``application/problem+json``. Every refusal is also a security
event (client id when known, remote address, path; never the body).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError
from aiohttp.typedefs import Handler, Middleware

from adapters.resilience.quota import TokenBucket
from gateway.appkeys import BODY_READ_TIMEOUT
from gateway.auth.clients import ClientRegistry
from gateway.jsoncodec import loads_body
from gateway.problems import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from gateway.security import events as security_events
from gateway.security.events import SecurityEventKind

from .forwarded import client_address
from .keys import AUTH_METHOD, CLIENT, REQUEST_BODY, AuthMethod, ServingState
from .nonces import NonceStore, NonceStoreFull, NonceStoreUnavailable
from .signatures import AuthenticationFailed, SignedRequest, verify_signed_request
from .tls import peer_certificate_cn

#: Path prefixes that skip authentication and authorization.
DEFAULT_PUBLIC_PATHS = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/callbacks/",
    "/pay/return/",
)


_log = structlog.get_logger("gateway.auth")

#: structlog's level filters that drop DEBUG: a debug call through one does nothing, but
#: reaching it through the lazy logger still binds a new logger (about ten times the cost
#: of asking which filter is configured), on every authenticated request.
_DEBUG_OFF = frozenset(
    structlog.make_filtering_bound_logger(level)
    for level in (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
)


def _debug_logged() -> bool:
    """Whether a debug line would be written (the configured wrapper does not drop it)."""
    return structlog.get_config()["wrapper_class"] not in _DEBUG_OFF


#: Security event kind per 401 type; other causes are ``auth_failed`` with the reason.
_EVENT_KINDS = {
    "unknown-client": SecurityEventKind.UNKNOWN_CLIENT,
    "bad-signature": SecurityEventKind.BAD_SIGNATURE,
    "replayed-request": SecurityEventKind.REPLAYED_REQUEST,
    "stale-request": SecurityEventKind.STALE_REQUEST,
}

_READ_CHUNK = 64 * 1024


def is_public(path: str, public_paths: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of the unauthenticated endpoints."""
    return public_path_test(public_paths)(path)


def public_path_test(public_paths: tuple[str, ...]) -> Callable[[str], bool]:
    """:func:`is_public` for these paths, prepared once: a set of exact paths (those not
    ending in ``/``) and a tuple of prefixes (those that do), instead of a scan per request."""
    exact = frozenset(p for p in public_paths if not p.endswith("/"))
    prefixes = tuple(p for p in public_paths if p.endswith("/"))

    def test(path: str) -> bool:
        return path in exact or path.startswith(prefixes)

    return test


class RequestTimeout(Problem):
    """408: the body did not arrive in time; the connection is closed after the answer."""

    status = 408
    type_name = "request-timeout"
    title = "Request timeout"
    close_connection = True


class ClientDisconnected(Problem):
    """The client went away before its body was complete: logged as 499, answered to no one."""

    status = 499
    type_name = "client-disconnected"
    title = "Client closed request"
    close_connection = True


def _connection_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _body_timeout(request: web.Request, deadline: float | None) -> float:
    if deadline is not None:
        return deadline
    timeout: float = request.config_dict.get(BODY_READ_TIMEOUT, 10.0)
    return timeout


async def read_body_limited(
    request: web.Request, max_body_bytes: int, *, deadline: float | None = None
) -> bytes:
    """The whole body, or :class:`PayloadTooLarge` as soon as it exceeds ``max_body_bytes``.

    The body must arrive within ``deadline`` seconds (default: the app's
    ``[server] body_read_timeout_seconds``), else :class:`RequestTimeout` (408); a
    client that disconnects before it is complete raises :class:`ClientDisconnected`.
    The body is also kept as ``request[REQUEST_BODY]``, for later layers (the audit
    log); a second call returns it.
    """
    if REQUEST_BODY in request:
        return request[REQUEST_BODY]

    def too_large() -> PayloadTooLarge:
        return PayloadTooLarge(f"the body exceeds {max_body_bytes} bytes", max_bytes=max_body_bytes)

    length = request.content_length
    if length is not None and length > max_body_bytes:
        raise too_large()
    body = bytearray()
    content = request.content
    try:
        if content.is_eof():  # the whole body has arrived (the common case): no timer, no wait
            body += content.read_nowait(-1)
            if len(body) > max_body_bytes:
                raise too_large()
        if not content.at_eof():
            async with asyncio.timeout(_body_timeout(request, deadline)):
                while chunk := await content.read(_READ_CHUNK):
                    body += chunk
                    if len(body) > max_body_bytes:
                        raise too_large()
    except TimeoutError as exc:
        timeout = _body_timeout(request, deadline)
        raise RequestTimeout(f"the request body did not arrive within {timeout:g} s") from exc
    except (ConnectionError, PayloadEncodingError) as exc:
        if isinstance(exc, PayloadEncodingError) and not _connection_gone(request):
            raise BadRequest("the request body is malformed", type_name="malformed-body") from exc
        raise ClientDisconnected("the client closed the connection mid-body") from exc
    request[REQUEST_BODY] = bytes(body)
    return request[REQUEST_BODY]


def _signed_request_of(request: web.Request) -> SignedRequest:
    path, question, query = request.raw_path.partition("?")
    return SignedRequest(
        method=request.method,
        scheme=request.scheme,
        authority=request.host,
        path=path,
        query=query if question else None,
        headers=tuple(request.headers.items()),
    )


def _report_refusal(request: web.Request, failure: Unauthorized, auth_method: str) -> None:
    client_id = failure.client_id if isinstance(failure, AuthenticationFailed) else None
    kind = _EVENT_KINDS.get(failure.type_name, SecurityEventKind.AUTH_FAILED)
    security_events.emit(
        kind,
        reason=failure.type_name,
        detail=failure.detail,
        client_id=client_id,
        auth_method=auth_method,
        remote=client_address(request),
        method=request.method,
        path=request.path,
    )


def _not_before(serving: ServingState | None, future_skew: float) -> float | None:
    if serving is None or serving.accepting_since is None:
        return None
    return serving.accepting_since - future_skew


def authentication_middleware(
    registry: ClientRegistry,
    nonces: NonceStore,
    *,
    window: float = 300.0,
    future_skew: float = 5.0,
    max_body_bytes: int = 1024 * 1024,
    clock: Callable[[], float] = time.time,
    public_paths: tuple[str, ...] = DEFAULT_PUBLIC_PATHS,
    serving: ServingState | None = None,
) -> Middleware:
    """Who is calling: a verified client certificate, else an RFC 9421 signature.

    Sets ``request[CLIENT]`` (ClientConfig), ``request[AUTH_METHOD]``
    (``"mtls"`` | ``"signature"``) and ``request[REQUEST_BODY]`` (the body, read
    once, at most ``max_body_bytes``); keys from :mod:`.keys`. ``clock`` gives
    epoch seconds. ``registry`` is read on every request, so a reload that
    replaces its clients takes effect at once. With ``serving``, a signature
    created before ``serving.accepting_since`` less ``future_skew`` is refused
    (``stale-request``): it belongs to an earlier process, whose nonces are gone.
    """

    public = public_path_test(public_paths)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if public(request.path):
            return await handler(request)
        body = await read_body_limited(request, max_body_bytes)
        cn = peer_certificate_cn(request)
        auth_method: AuthMethod = "mtls" if cn is not None else "signature"
        try:
            if cn is not None:
                client = registry.by_certificate_cn(cn)
                if client is None:
                    raise AuthenticationFailed(
                        "unknown-client", "the client certificate names no known client"
                    )
            else:
                client = await verify_signed_request(
                    _signed_request_of(request),
                    body,
                    clients=registry,
                    nonces=nonces,
                    now=clock(),
                    window=window,
                    future_skew=future_skew,
                    not_before=_not_before(serving, future_skew),
                )
        except Unauthorized as failure:
            _report_refusal(request, failure, auth_method)
            raise
        except NonceStoreFull as exc:
            security_events.emit(
                SecurityEventKind.NONCE_STORE_FULL,
                remote=client_address(request),
                path=request.path,
            )
            raise ServiceUnavailable("too many signed requests in flight", retry_after=1) from exc
        except NonceStoreUnavailable as exc:
            _log.warning("auth.nonce_store_unavailable", error=str(exc))
            raise ServiceUnavailable("the nonce store does not answer", retry_after=1) from exc
        request[CLIENT] = client
        request[AUTH_METHOD] = auth_method
        request[REQUEST_BODY] = body
        structlog.contextvars.bind_contextvars(client_id=client.id)
        if _debug_logged():
            _log.debug("auth.authenticated", client_id=client.id, auth_method=auth_method)
        return await handler(request)

    return authenticate


def authorization_middleware(*, public_paths: tuple[str, ...] = DEFAULT_PUBLIC_PATHS) -> Middleware:
    """May this client call this operation (the matched route's name, e.g. ``citizens.verify``)?

    Public paths and unnamed routes pass. A named route reached without an
    authenticated client is refused (fail closed if authentication is missing).
    """

    public = public_path_test(public_paths)

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation = request.match_info.route.name
        if operation is None or public(request.path):
            return await handler(request)
        client = request.get(CLIENT)
        if client is None:
            raise Unauthorized("no authenticated client", type_name="unauthenticated")
        if not client.may(operation):
            security_events.emit(
                SecurityEventKind.FORBIDDEN,
                client_id=client.id,
                operation=operation,
                remote=client_address(request),
                method=request.method,
                path=request.path,
            )
            raise Forbidden(f"client may not call {operation}", operation=operation)
        return await handler(request)

    return authorize


def rate_limit_middleware(clock: Callable[[], float] = time.monotonic) -> Middleware:
    """A token bucket per client (its ``rate_per_second`` and ``burst``); 429 with Retry-After."""
    buckets: dict[tuple[str, float, float], TokenBucket] = {}

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = request.get(CLIENT)
        if client is None:
            return await handler(request)
        key = (client.id, client.rate_per_second, client.burst)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(client.rate_per_second, client.burst, clock=clock)
        wait = bucket.try_take()
        if wait > 0:
            security_events.emit(
                SecurityEventKind.RATE_LIMITED,
                client_id=client.id,
                remote=client_address(request),
                method=request.method,
                path=request.path,
                retry_after=round(wait, 3),
            )
            raise TooManyRequests("rate limit exceeded for this client", retry_after=wait)
        return await handler(request)

    return limit


async def parse_json_body(request: web.Request) -> Any:
    """The request's JSON body; :class:`BadRequest` (``malformed-json``) if it is not UTF-8 JSON.

    Uses the body the authentication middleware read; reads it (within
    aiohttp's ``client_max_size``) on routes that skipped authentication.
    """
    body = request[REQUEST_BODY] if REQUEST_BODY in request else await request.read()
    try:
        return loads_body(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest("the body is not valid UTF-8 JSON", type_name="malformed-json") from exc
