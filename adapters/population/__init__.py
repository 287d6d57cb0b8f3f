"""The national population database (CSDLQG về dân cư), reached over SOAP through NDXP.

Exports the three names of :mod:`adapters.systems`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from adapters.population.config import PopulationConfig as Config

if TYPE_CHECKING:
    from adapters.guard import CallGuard
    from adapters.population.client import PopulationClient
    from adapters.systems import SandboxSite

__all__ = ["Config", "open_client", "open_sandbox"]


@asynccontextmanager
async def open_client(
    config: Config, guard: CallGuard, **options: Any
) -> AsyncIterator[PopulationClient]:
    """The client (WSDL parsed, WS-Security keys read) on its own session; ``options`` go
    to :meth:`PopulationClient.load` (``fold_name``, ``clock``)."""
    from adapters.http import make_session
    from adapters.population.client import PopulationClient

    async with make_session(tls=config.tls) as session:
        yield await PopulationClient.load(config, session, guard, **options)


@asynccontextmanager
async def open_sandbox(config: Config | None, site: SandboxSite) -> AsyncIterator[str]:
    """The population sandbox (its default citizens and demands) at ``site``."""
    from adapters.population.sandbox import start_sandbox
    from adapters.population.sandbox_config import PopulationSandboxConfig
    from adapters.serving import serving

    async with serving(
        await start_sandbox(PopulationSandboxConfig(), site.host, site.port)
    ) as base_url:
        yield base_url
