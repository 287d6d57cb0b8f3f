"""Serving a sandbox peer on loopback: how every sandbox is started and stopped."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


async def serve(
    app: web.Application, host: str, port: int, **runner_options: Any
) -> tuple[web.AppRunner, str]:
    """Start ``app`` on ``host:port`` (0 = any free port); the runner and the base URL.

    ``runner_options`` go to :class:`aiohttp.web.AppRunner` (``shutdown_timeout``,
    ``handler_cancellation``); the access log is off.
    """
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, f"http://{host}:{bound_port}"


@asynccontextmanager
async def serving(
    started: tuple[web.AppRunner, str],
) -> AsyncIterator[str]:
    """The base URL of a sandbox started by :func:`serve`; the sandbox stops on exit."""
    runner, base_url = started
    try:
        yield base_url
    finally:
        await runner.cleanup()


def from_loopback(request: web.Request) -> bool:
    """Whether the caller is on loopback: a sandbox's ``/_admin`` answers no one else."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; 400 for anything else."""
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body
