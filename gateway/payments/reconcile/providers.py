"""The provider a reconciliation talks to, built from the gateway's settings.

Reads ``settings.upstreams.<name>``: its ``adapter`` (a :class:`DvcqgConfig` /
:class:`VnpayConfig`, or None when the provider is left out) and its ``resilience``,
as the payment runtime does; it tolerates settings without those (older configs)
by failing with a clear message rather than guessing an address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapters.http import make_session
from adapters.payment.base import PaymentProvider
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig
from adapters.resilience import UpstreamGuard, UpstreamResilience
from gateway.errors import CommandRefused
from gateway.store import StoreConfig


class ProviderNotConfigured(CommandRefused, ValueError):
    """The settings name no such provider, or leave it out."""


def store_config_from_settings(settings: Any) -> StoreConfig:
    """The store's settings (``url``, and ``pool_size`` / ``schema_name`` when present)."""
    section = settings.store
    extra: dict[str, Any] = {}
    for name in ("pool_size", "schema_name"):
        value = getattr(section, name, None)
        if value is not None:
            extra[name] = value
    return StoreConfig(url=section.url, **extra)


def provider_settings(settings: Any, name: str) -> tuple[Any, UpstreamResilience]:
    """The adapter config and resilience policy of provider ``name``."""
    upstreams = getattr(settings, "upstreams", None)
    section = getattr(upstreams, name, None) if name in ("dvcqg", "vnpay") else None
    config = getattr(section, "adapter", None)
    if config is None:
        raise ProviderNotConfigured(f"payment provider {name!r} is not configured")
    resilience = getattr(section, "resilience", None)
    if not isinstance(resilience, UpstreamResilience):
        resilience = UpstreamResilience()
    return config, resilience


@asynccontextmanager
async def provider_from_settings(settings: Any, name: str) -> AsyncIterator[PaymentProvider]:
    """The configured provider ``name`` with its own session and guard (closed on exit)."""
    config, resilience = provider_settings(settings, name)
    if not isinstance(config, DvcqgConfig | VnpayConfig):
        raise ProviderNotConfigured(f"payment provider {name!r} has an unusable config")
    session = make_session()
    try:
        guard = UpstreamGuard(name, resilience)
        provider: PaymentProvider
        if isinstance(config, DvcqgConfig):
            provider = DvcqgProvider(config, session, guard)
        else:
            provider = VnpayProvider(config, session, guard)
        yield provider
    finally:
        await session.close()
