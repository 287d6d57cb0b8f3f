"""The audit slice in the app: the audit log, its writer and its middleware.

One ``cleanup_ctx`` entry (started after the store, stopped before it) opens
the audit log and binds the audit middleware to it; :func:`audit` (its place
in the middleware order is :data:`gateway.app.MIDDLEWARES`) finds that
middleware in the app, since the log only exists once the store is open. With
``[audit] enabled = false`` the entry installs a :class:`~gateway.audit.null.NullAuditLog`
and a pass-through middleware instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import AUDIT_LOG, AUDIT_MIDDLEWARE, SETTINGS, STORE
from gateway.audit.log import AuditLog
from gateway.audit.middleware import audit_middleware
from gateway.audit.null import NullAuditLog
from gateway.config import Settings
from gateway.dev.pki import ensure_dev_pki
from gateway.wiring import Handler, Slice


def audit_slice(settings: Settings) -> Slice:
    """The audit log's cleanup_ctx entry (no routes)."""
    return Slice("audit", cleanup_ctx=(audit_ctx,))


@web.middleware
async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The audit middleware of this app's audit log."""
    return await request.app[AUDIT_MIDDLEWARE](request, handler)


async def _pass_through(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


async def audit_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.audit.enabled:
        app[AUDIT_LOG] = NullAuditLog(settings.audit)
        app[AUDIT_MIDDLEWARE] = _pass_through
        yield
        return
    if settings.tls.generate_dev_pki:  # dev and tests: the signing key comes from the dev PKI
        await asyncio.to_thread(ensure_dev_pki, settings)
    log = AuditLog(app[STORE], settings.audit, settings.instance_id)
    await log.start()
    app[AUDIT_LOG] = log
    app[AUDIT_MIDDLEWARE] = audit_middleware(log)
    try:
        yield
    finally:
        await log.stop()
