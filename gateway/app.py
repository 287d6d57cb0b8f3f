"""The gateway application: its middlewares in order, every resource in a cleanup_ctx.

    request context → audit → problems → client identity → ACL → rate limit
    → request volume → handler

(the order of ``app.middlewares`` in :func:`create_app`; docs/architecture.md
says why each sits where it does).

Each long-lived resource (the store, one HTTP session and guard per upstream,
the adapters) is opened by one ``cleanup_ctx`` entry and closed by the same
entry, so start-up and shutdown are symmetrical.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web

from adapters.business.client import BusinessClient
from adapters.http import make_session
from adapters.networks import networks
from adapters.oauth import TokenProvider
from adapters.population.client import PopulationClient
from adapters.resilience import UpstreamGuard
from gateway import tracing
from gateway.appkeys import CITIZEN_SERVICE, READINESS_CHECKS, SETTINGS, STORE, ReadinessCheck
from gateway.audit import runtime as audit_runtime
from gateway.auth.clients import ClientRegistry
from gateway.auth.forwarded import TRUSTED_PROXIES
from gateway.auth.keys import BODY_READ_TIMEOUT, CLIENT_REGISTRY, SERVING, ServingState
from gateway.auth.middleware import (
    authentication_middleware,
    authorization_middleware,
    rate_limit_middleware,
)
from gateway.auth.nonces import InMemoryNonceStore, NonceStore
from gateway.build_info import record_build_info
from gateway.businesses import routes as business_routes
from gateway.businesses.service import BUSINESS_SERVICE, BusinessService
from gateway.citizens import CitizenService, fold_for_request
from gateway.citizens import routes as citizen_routes
from gateway.config import Settings
from gateway.http import ops as ops_routes
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware
from gateway.payments import callbacks as callback_routes
from gateway.payments import routes as payment_routes
from gateway.payments.runtime import payment_workers_ctx, payments_ctx
from gateway.reports import route as report_routes
from gateway.security import runtime as security_runtime
from gateway.store import StoreConfig, open_store

#: Paths that carry no client authentication: operations endpoints, and the
#: provider callbacks and payer returns (authenticated by the provider's checksum).
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/callbacks/", "/pay/return/")


def nonce_store_for(
    settings: Settings, app: web.Application, clock: Callable[[], float]
) -> NonceStore:
    """Where this gateway remembers signature nonces (``[server] nonce_store``)."""
    if settings.server.nonce_store == "store":
        return SharedNonceStore(app)
    return InMemoryNonceStore(max_entries=settings.server.max_nonces, clock=clock)


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> web.Application:
    registry = ClientRegistry(settings.clients)
    record_build_info()
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    nonces = nonce_store_for(settings, app, clock)
    serving = ServingState()
    app.middlewares.extend(
        [
            request_context_middleware,
            audit_runtime.audit,
            problem_middleware,
            authentication_middleware(
                registry,
                nonces,
                window=settings.server.signature_window_seconds,
                max_body_bytes=settings.server.max_body_bytes,
                clock=clock,
                public_paths=PUBLIC_PATHS,
                serving=serving,
            ),
            authorization_middleware(public_paths=PUBLIC_PATHS),
            rate_limit_middleware(),
            security_runtime.request_volume,
        ]
    )
    app[SETTINGS] = settings
    app[SERVING] = serving
    app[TRUSTED_PROXIES] = networks(settings.server.trusted_proxies)
    app[CLIENT_REGISTRY] = registry
    app[BODY_READ_TIMEOUT] = settings.server.body_read_timeout_seconds
    app[READINESS_CHECKS] = {}
    app.add_routes(ops_routes.routes)
    app.add_routes(citizen_routes.routes)
    app.add_routes(business_routes.routes)
    app.add_routes(payment_routes.routes)
    app.add_routes(callback_routes.routes)
    app.add_routes(report_routes.routes)
    app.cleanup_ctx.append(tracing.export_ctx(settings.tracing))
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(audit_runtime.audit_ctx)
    app.cleanup_ctx.append(security_runtime.security_ctx)
    app.cleanup_ctx.append(_population_ctx)
    app.cleanup_ctx.append(_business_ctx)
    app.cleanup_ctx.append(payments_ctx)
    app.cleanup_ctx.append(payment_workers_ctx)
    return app


def _guard_check(guard: UpstreamGuard) -> ReadinessCheck:
    async def check() -> tuple[bool, dict[str, object]]:
        # An open breaker degrades one capability; the gateway itself stays ready.
        return True, dict(guard.snapshot())

    return check


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


async def _population_ctx(app: web.Application) -> AsyncIterator[None]:
    section = app[SETTINGS].population
    cfg = section.adapter
    session = make_session(tls=cfg.tls)
    guard = UpstreamGuard(cfg.upstream_name, section.resilience)
    try:
        client = await PopulationClient.load(cfg, session, guard, fold_name=fold_for_request)
        app[CITIZEN_SERVICE] = CitizenService(client)
        app[READINESS_CHECKS]["population"] = _guard_check(guard)
        yield
    finally:
        await session.close()


async def _business_ctx(app: web.Application) -> AsyncIterator[None]:
    section = app[SETTINGS].business
    cfg = section.adapter
    if cfg is None:
        yield
        return
    session = make_session(tls=cfg.tls.files() if cfg.tls else None)
    guard = UpstreamGuard("business", section.resilience)
    tokens = TokenProvider(cfg.oauth, session, upstream="business")
    client = BusinessClient(cfg, session, guard, tokens)
    app[BUSINESS_SERVICE] = BusinessService(client, ttl_seconds=section.cache_ttl_seconds)
    app[READINESS_CHECKS]["business"] = _guard_check(guard)
    try:
        yield
    finally:
        await session.close()


class SharedNonceStore:
    """Signature nonces as unique rows in the store, so every instance sees every nonce.

    Costs one write transaction per signed request; the in-memory store (the
    default) costs nothing but only protects one instance.
    """

    def __init__(self, app: web.Application) -> None:
        self._app = app  # the store is opened later, by the app's cleanup_ctx

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        when = datetime.fromtimestamp(expires_at, UTC)
        return await self._app[STORE].remember(client_id, nonce, when)
