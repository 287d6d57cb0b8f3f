"""The national payment platform (Nền tảng thanh toán của Cổng DVCQG): JSON + ``MaXacThuc``.

Exports the three names of :mod:`adapters.systems`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from adapters.payment.dvcqg.config import DvcqgConfig as Config

if TYPE_CHECKING:
    from adapters.guard import CallGuard
    from adapters.payment.dvcqg.client import DvcqgProvider
    from adapters.systems import SandboxSite

__all__ = ["Config", "open_client", "open_sandbox"]


def open_client(
    config: Config, guard: CallGuard, **options: Any
) -> AbstractAsyncContextManager[DvcqgProvider]:
    """The provider on its own session; ``options`` go to :class:`DvcqgProvider` (``clock``)."""
    from adapters.payment.dvcqg.client import DvcqgProvider
    from adapters.payment.transport import open_provider

    return open_provider(DvcqgProvider, config, guard, **options)


def open_sandbox(config: Config | None, site: SandboxSite) -> AbstractAsyncContextManager[str]:
    """The provider's sandbox at ``site``, with ``config``'s wire settings and keys."""
    from adapters.payment.dvcqg.sandbox import DvcqgSandboxConfig, start_sandbox
    from adapters.payment.sandbox_kit import open_provider_sandbox

    return open_provider_sandbox("dvcqg", DvcqgSandboxConfig, start_sandbox, config, site)
