"""The businesses slice in the app: the business registry's session, guard, client and service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from adapters import business
from adapters.resilience.guard import UpstreamGuard
from gateway.appkeys import BUSINESS_SERVICE, READINESS_CHECKS, SETTINGS
from gateway.businesses import routes
from gateway.businesses.service import BusinessService
from gateway.config import Settings
from gateway.http.ops import guard_readiness
from gateway.wiring import Slice


def businesses_slice(settings: Settings) -> Slice:
    """The business routes; the registry behind them with ``[upstreams.business.adapter]``."""
    return Slice("businesses", routes=routes.routes, cleanup_ctx=(business_ctx,))


async def business_ctx(app: web.Application) -> AsyncIterator[None]:
    section = app[SETTINGS].upstreams.section("business")
    cfg: business.Config | None = section.adapter
    if cfg is None:
        yield
        return
    guard = UpstreamGuard("business", section.resilience)
    async with business.open_client(cfg, guard) as client:
        app[BUSINESS_SERVICE] = BusinessService(
            client, ttl_seconds=app[SETTINGS].businesses.cache_ttl_seconds
        )
        app[READINESS_CHECKS]["business"] = guard_readiness(guard)
        yield
