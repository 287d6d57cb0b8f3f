"""The citizens slice in the app: the population session, guard, client and service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from adapters import population
from adapters.resilience.guard import UpstreamGuard
from gateway.appkeys import CITIZEN_SERVICE, READINESS_CHECKS, SETTINGS
from gateway.citizens import routes
from gateway.citizens.names import fold_for_request
from gateway.citizens.service import CitizenService
from gateway.config import Settings
from gateway.http.ops import guard_readiness
from gateway.wiring import Slice


def citizens_slice(settings: Settings) -> Slice:
    """The citizen routes and the population system behind them."""
    return Slice("citizens", routes=routes.routes, cleanup_ctx=(population_ctx,))


async def population_ctx(app: web.Application) -> AsyncIterator[None]:
    section = app[SETTINGS].upstreams.section("population")
    cfg: population.Config = section.adapter
    guard = UpstreamGuard(cfg.upstream_name, section.resilience)
    async with population.open_client(cfg, guard, fold_name=fold_for_request) as client:
        app[CITIZEN_SERVICE] = CitizenService(client)
        app[READINESS_CHECKS]["population"] = guard_readiness(guard)
        yield
