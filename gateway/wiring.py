"""What a slice contributes to the application, and the shapes of middlewares and handlers.

A slice (``gateway/citizens/``, ``gateway/payments/``, ...) exports one
factory, ``<name>_slice(settings) -> Slice``: its routes and its
``cleanup_ctx`` entries, decided once from the settings (a feature that is off
contributes nothing, or a null object, never a per-request question).
:mod:`gateway.app` states the slices once, in order, and iterates them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["CleanupCtx", "Handler", "Middleware", "Slice"]

#: An aiohttp ``cleanup_ctx`` entry: opens its resources, yields, closes them.
CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True)
class Slice:
    """One capability's share of the app: routes and cleanup_ctx entries (in start order)."""

    name: str
    routes: Iterable[web.AbstractRouteDef] = ()
    cleanup_ctx: tuple[CleanupCtx, ...] = ()
