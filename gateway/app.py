"""The composition root: the middlewares and the slices, each stated once, in order.

:data:`MIDDLEWARES` is the middleware order, outermost first (docs/architecture.md
says why each sits where it does; a test pins both to this tuple):

    request context → audit → problems → authentication → authorization
    → rate limit → request volume → handler

:data:`SLICES` are the capabilities, in start order: each contributes its
routes and its ``cleanup_ctx`` entries (:class:`gateway.wiring.Slice`), decided
once from the settings. Each long-lived resource (the store, one HTTP session
and guard per upstream, the adapters) is opened by one ``cleanup_ctx`` entry
and closed by the same entry, so start-up and shutdown are symmetrical
(started in this order, stopped in reverse).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from adapters.networks import networks
from gateway import tracing
from gateway.appkeys import (
    BODY_READ_TIMEOUT,
    CLIENT_REGISTRY,
    READINESS_CHECKS,
    SERVING,
    SETTINGS,
    STORE,
    TRUSTED_PROXIES,
)
from gateway.audit.runtime import audit, audit_slice
from gateway.auth.clients import ClientRegistry
from gateway.auth.keys import ServingState
from gateway.auth.middleware import (
    authentication_middleware,
    authorization_middleware,
    rate_limit_middleware,
)
from gateway.auth.nonces import NonceStore, nonce_purge_ctx, nonce_store_for
from gateway.build_info import record_build_info
from gateway.businesses.runtime import businesses_slice
from gateway.citizens.runtime import citizens_slice
from gateway.config import Settings
from gateway.http import ops
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware
from gateway.payments.runtime import payments_slice
from gateway.reports.route import reports_slice
from gateway.security.runtime import request_volume, security_slice
from gateway.store import StoreConfig, open_store
from gateway.wiring import CleanupCtx, Middleware, Slice

_log = structlog.get_logger("gateway.app")

#: Paths that carry no client authentication: operations endpoints, and the
#: provider callbacks and payer returns (authenticated by the provider's checksum).
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/callbacks/", "/pay/return/")


@dataclass(frozen=True)
class Wiring:
    """What the middlewares are built from: one of each per app."""

    settings: Settings
    registry: ClientRegistry
    nonces: NonceStore
    serving: ServingState
    clock: Callable[[], float]


def _authentication(w: Wiring) -> Middleware:
    return authentication_middleware(
        w.registry,
        w.nonces,
        window=w.settings.server.signature_window_seconds,
        max_body_bytes=w.settings.server.max_body_bytes,
        clock=w.clock,
        public_paths=PUBLIC_PATHS,
        serving=w.serving,
    )


#: The middlewares, outermost first: (name, factory). docs/architecture.md's table
#: lists the same names in the same order (tests/test_app_composition.py).
MIDDLEWARES: tuple[tuple[str, Callable[[Wiring], Middleware]], ...] = (
    ("request_context", lambda w: request_context_middleware),
    ("audit", lambda w: audit),
    ("problems", lambda w: problem_middleware),
    ("authentication", _authentication),
    ("authorization", lambda w: authorization_middleware(public_paths=PUBLIC_PATHS)),
    ("rate_limit", lambda w: rate_limit_middleware()),
    ("request_volume", lambda w: request_volume),
)


def core_slice(settings: Settings) -> Slice:
    """The ops routes, span export, the store (every other slice's resources need it) and,
    with ``nonce_store = "store"``, the background purge of expired nonce rows."""
    entries: tuple[CleanupCtx, ...] = (tracing.export_ctx(settings.tracing), _store_ctx)
    if settings.server.nonce_store == "store":
        entries += (nonce_purge_ctx,)
    return Slice("core", routes=ops.routes, cleanup_ctx=entries)


#: The slices in start order (stopped in reverse).
SLICES: tuple[Callable[[Settings], Slice], ...] = (
    core_slice,
    audit_slice,
    security_slice,
    citizens_slice,
    businesses_slice,
    payments_slice,
    reports_slice,
)


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> web.Application:
    record_build_info()
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    wiring = Wiring(
        settings=settings,
        registry=ClientRegistry(settings.clients),
        nonces=nonce_store_for(settings, app, clock),
        serving=ServingState(),
        clock=clock,
    )
    app.middlewares.extend(factory(wiring) for _, factory in MIDDLEWARES)
    app[SETTINGS] = settings
    app[TRUSTED_PROXIES] = networks(settings.server.trusted_proxies)
    app[SERVING] = wiring.serving
    app[CLIENT_REGISTRY] = wiring.registry
    app[BODY_READ_TIMEOUT] = settings.server.body_read_timeout_seconds
    app[READINESS_CHECKS] = {}
    for make_slice in SLICES:
        part = make_slice(settings)
        app.add_routes(part.routes)
        app.cleanup_ctx.extend(part.cleanup_ctx)
    return app


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    section = app[SETTINGS].store
    store = await open_store(
        StoreConfig(url=section.url, pool_size=section.pool_size, schema_name=section.schema_name)
    )
    app[STORE] = store

    async def check() -> tuple[bool, dict[str, object]]:
        await store.ping()
        return True, {}

    app[READINESS_CHECKS]["store"] = check
    try:
        yield
    finally:
        await store.close()
