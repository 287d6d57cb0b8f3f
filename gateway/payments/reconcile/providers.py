"""The provider a reconciliation talks to, built from the gateway's settings.

Reads ``settings.upstreams.<name>``: its ``adapter`` (the provider package's ``Config``,
or None when the provider is left out) and its ``resilience``,
as the payment runtime does; it tolerates settings without those (older configs)
by failing with a clear message rather than guessing an address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from adapters.payment.base import PaymentProvider
from adapters.resilience import UpstreamGuard, UpstreamResilience
from adapters.systems import SYSTEMS, system
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
    providers = {s.name for s in SYSTEMS if s.payment}
    section = getattr(upstreams, name, None) if name in providers else None
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
    adapter = system(name).adapter()
    if not isinstance(config, adapter.Config):
        raise ProviderNotConfigured(f"payment provider {name!r} has an unusable config")
    async with adapter.open_client(config, UpstreamGuard(name, resilience)) as provider:
        yield provider
