"""VNPay 2.1.0: signed pay URLs, GET IPNs, ``querydr`` (HMAC-SHA512).

Exports the three names of :mod:`adapters.systems`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from adapters.payment.vnpay.config import VnpayConfig as Config

if TYPE_CHECKING:
    from adapters.guard import CallGuard
    from adapters.payment.vnpay.client import VnpayProvider
    from adapters.systems import SandboxSite

__all__ = ["Config", "open_client", "open_sandbox"]


def open_client(
    config: Config, guard: CallGuard, **options: Any
) -> AbstractAsyncContextManager[VnpayProvider]:
    """The provider on its own session; ``options`` go to :class:`VnpayProvider` (``clock``)."""
    from adapters.payment.transport import open_provider
    from adapters.payment.vnpay.client import VnpayProvider

    return open_provider(VnpayProvider, config, guard, **options)


def open_sandbox(config: Config | None, site: SandboxSite) -> AbstractAsyncContextManager[str]:
    """The provider's sandbox at ``site``, with ``config``'s wire settings and keys."""
    from adapters.payment.sandbox_kit import open_provider_sandbox
    from adapters.payment.vnpay.sandbox import VnpaySandboxConfig, start_sandbox

    return open_provider_sandbox("vnpay", VnpaySandboxConfig, start_sandbox, config, site)
