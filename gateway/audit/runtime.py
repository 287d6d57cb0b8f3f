"""Wiring the audit log into the application.

One ``cleanup_ctx`` entry (started after the store, stopped before it) plus a
middleware that finds its resource in the app at request time, since the
resources only exist once the store is open:

    request context → audit → problems → identity → ACL → rate limit → volume → handler
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from gateway.appkeys import AUDIT_LOG, SETTINGS, STORE
from gateway.audit import AuditLog, audit_middleware
from gateway.dev.pki import ensure_dev_pki

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
_AUDIT_MW: web.AppKey[Middleware] = web.AppKey("audit_middleware")


@web.middleware
async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The audit middleware of this app's audit log (a pass-through when auditing is off)."""
    mw = request.app.get(_AUDIT_MW)
    if mw is None:
        return await handler(request)
    return await mw(request, handler)


async def audit_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.audit.enabled:
        yield
        return
    if settings.tls.generate_dev_pki:  # dev and tests: the signing key comes from the dev PKI
        await asyncio.to_thread(ensure_dev_pki, settings)
    log = AuditLog(app[STORE], settings.audit, settings.instance_id)
    await log.start()
    app[AUDIT_LOG] = log
    app[_AUDIT_MW] = audit_middleware(log)
    try:
        yield
    finally:
        await log.stop()
