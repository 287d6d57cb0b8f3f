"""The national business registration database (CSDL quốc gia về đăng ký doanh nghiệp), via NGSP.

``BusinessClient`` speaks ``GET apiCSDLDKDN/1.0/chiTietDoanhNghiep?msdn=`` with an OAuth2
Bearer token and returns :class:`BusinessRecord`; ``sandbox`` is a peer speaking the same
protocol, misbehaving on demand.

Exports the three names of :mod:`adapters.systems`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from adapters.business.config import BusinessConfig as Config

if TYPE_CHECKING:
    from adapters.business.client import BusinessClient
    from adapters.guard import CallGuard
    from adapters.systems import SandboxSite

__all__ = ["Config", "open_client", "open_sandbox"]


@asynccontextmanager
async def open_client(
    config: Config, guard: CallGuard, **options: Any
) -> AsyncIterator[BusinessClient]:
    """The client and its OAuth2 token provider on their own session; ``options`` go to
    :class:`BusinessClient` (``wall``)."""
    from adapters.business.client import BusinessClient
    from adapters.http import make_session
    from adapters.oauth import TokenProvider

    async with make_session(tls=config.tls.files() if config.tls else None) as session:
        tokens = TokenProvider(config.oauth, session, upstream="business")
        yield BusinessClient(config, session, guard, tokens, **options)


@asynccontextmanager
async def open_sandbox(config: Config | None, site: SandboxSite) -> AsyncIterator[str]:
    """The NGSP sandbox at ``site``, accepting exactly ``config``'s OAuth2 credentials."""
    from adapters.business.sandbox import NgspSandboxConfig, start_sandbox
    from adapters.serving import serving

    sandbox = NgspSandboxConfig.accepting(config, site.token_lifetime_seconds)
    async with serving(await start_sandbox(sandbox, site.host, site.port)) as base_url:
        yield base_url
