"""The security slice in the app: the monitor, its recorder, alert sender and certificate watch.

One ``cleanup_ctx`` entry (started after the store, stopped before it) plus
the middleware that feeds the volume detector, which finds the monitor in the
app at request time, since the monitor only exists once the store is open. The
request path never asks whether a monitor is there: an app built without this
slice installs a :class:`~gateway.security.null.NullSecurityMonitor`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from adapters.aliases import Handler
from gateway.appkeys import SECURITY_MONITOR, SETTINGS, STORE
from gateway.auth.keys import CLIENT
from gateway.config import Settings
from gateway.security.alerts import AlertWebhookSender
from gateway.security.certificates import watch_certificates
from gateway.security.config import CertificateWatch
from gateway.security.detectors import SecurityMonitor
from gateway.security.recorder import SecurityRecorder
from gateway.wiring import Slice


def security_slice(settings: Settings) -> Slice:
    """The security monitor's cleanup_ctx entry (no routes)."""
    return Slice("security", cleanup_ctx=(security_ctx,))


@web.middleware
async def request_volume(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Feeds the volume detector with each authenticated request."""
    try:
        return await handler(request)
    finally:
        client = request.get(CLIENT)
        if client is not None:
            request.app[SECURITY_MONITOR].observe_request(client.id)


def _default_watches(app: web.Application) -> list[CertificateWatch]:
    settings = app[SETTINGS]
    watches = list(settings.security.certificates)
    if not watches and settings.server.tls_port:
        own = ((settings.tls.cert_file, "gateway"), (settings.tls.client_ca_file, "ca"))
        for path, role in own:
            if path.exists():
                watches.append(CertificateWatch(path=path, role=role))  # type: ignore[arg-type]
    return watches


async def security_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    cfg = settings.security
    monitor = SecurityMonitor(cfg)
    recorder = SecurityRecorder(
        app[STORE], settings.instance_id, interval_seconds=cfg.persist_interval_seconds
    )
    monitor.add_sink(recorder.on_alert)
    await recorder.start()
    monitor.attach()
    session: aiohttp.ClientSession | None = None
    sender: AlertWebhookSender | None = None
    if cfg.alert_webhook is not None:
        session = aiohttp.ClientSession()
        sender = AlertWebhookSender(cfg.alert_webhook, session)
        monitor.add_sink(sender.enqueue)
        await sender.start()
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_certificates(
            _default_watches(app),
            warn_days=cfg.cert_expiry_days,
            interval_seconds=cfg.cert_check_interval_seconds,
            stop=stop,
        )
    )
    app[SECURITY_MONITOR] = monitor
    try:
        yield
    finally:
        stop.set()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        monitor.detach()
        if sender is not None:
            await sender.stop()
        if session is not None:
            await session.close()
        await recorder.stop()
