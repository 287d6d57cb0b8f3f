"""Running the gateway: listeners, the embedded sandboxes, signals, a clean stop."""

from __future__ import annotations

import asyncio
import signal
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog
from aiohttp import web

from gateway.config import Settings
from gateway.logging import configure_logging

_log = structlog.get_logger("gateway.server")


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _announce(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr, flush=True)


@dataclass
class Listeners:
    """Where a started gateway listens (the bound ports, also when 0 was configured)."""

    http_url: str
    https_url: str | None = None

    def describe(self) -> list[str]:
        lines = [f"gateway  {self.http_url}   (RFC 9421 signed requests)"]
        if self.https_url:
            lines.append(f"gateway  {self.https_url}  (city-CA client certificates)")
        return lines


def _last_port(runner: web.AppRunner) -> int:
    return int(runner.addresses[-1][1])


async def start_gateway(
    settings: Settings, stack: AsyncExitStack, *, https_port: int | None = None
) -> Listeners:
    """Start the gateway's listeners inside ``stack``; returns where they listen.

    The HTTPS listener starts when ``server.tls_port`` is set, or when
    ``https_port`` is given (0 picks a free port, as the tests do).
    """
    from gateway.app import create_app

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    host = settings.server.host
    await web.TCPSite(runner, host, settings.server.port).start()
    listeners = Listeners(http_url=f"http://{host}:{_last_port(runner)}")
    tls_port = settings.server.tls_port if https_port is None else https_port
    if settings.server.tls_port or https_port is not None:
        from gateway.auth.tls import server_ssl_context

        ctx = server_ssl_context(
            settings.tls.cert_file,
            settings.tls.key_file,
            settings.tls.client_ca_file,
            require_client_cert=settings.server.require_client_certificate,
        )
        await web.TCPSite(runner, host, tls_port, ssl_context=ctx).start()
        listeners.https_url = f"https://{host}:{_last_port(runner)}"
    return listeners


def ensure_dev_pki(settings: Settings) -> None:
    if settings.tls.generate_dev_pki and settings.server.tls_port:
        from gateway.pki import init_dev_pki

        init_dev_pki(settings.tls.dev_pki_dir, clients=[c.id for c in settings.clients])


async def serve(settings: Settings) -> None:
    configure_logging(level=settings.logging.level, json_lines=settings.logging.json_lines)
    ensure_dev_pki(settings)
    async with AsyncExitStack() as stack:
        where: list[str] = []
        if settings.sandbox.enabled:
            from gateway.embedded import point_at_sandboxes, start_sandboxes

            sandboxes = await start_sandboxes(settings, stack)
            settings = point_at_sandboxes(settings, sandboxes)
            where += sandboxes.describe()
        where += (await start_gateway(settings, stack)).describe()
        _announce(["lienthong is up:", *(f"  {w}" for w in where), "  Ctrl-C stops it."])
        _log.info("started", instance_id=settings.instance_id, environment=settings.environment)
        await _wait_for_stop()
        _log.info("stopping")


async def serve_sandboxes(settings: Settings) -> None:
    configure_logging(level=settings.logging.level, json_lines=settings.logging.json_lines)
    from gateway.embedded import start_sandboxes

    async with AsyncExitStack() as stack:
        sandboxes = await start_sandboxes(settings, stack)
        _announce(["lienthong sandboxes are up:", *(f"  {w}" for w in sandboxes.describe())])
        await _wait_for_stop()
