"""``python -m bench.proxy --upstream URL --port P``: the minimal pass-through proxy baseline.

It forwards the method, path and query, body and end-to-end headers to the
upstream with one shared :class:`aiohttp.ClientSession`, and returns the
upstream's status, headers and body. Nothing else: no parsing, no checks, no
logging. It is the floor any aiohttp gateway pays for one extra hop.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.signals import wait_for_stop

#: Hop-by-hop headers (RFC 9110 §7.6.1) and those aiohttp recomputes.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
UPSTREAM_SESSION = web.AppKey("upstream_session", aiohttp.ClientSession)


def _end_to_end(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in _NOT_FORWARDED:
            out.add(name, value)
    return out


def create_proxy_app(upstream: str) -> web.Application:
    """The proxy as an aiohttp application forwarding everything to ``upstream``."""
    base = upstream.rstrip("/")

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0)
        app[UPSTREAM_SESSION] = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )
        yield
        await app[UPSTREAM_SESSION].close()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with request.app[UPSTREAM_SESSION].request(
            request.method,
            base + request.path_qs,
            headers=_end_to_end(request.headers),
            data=body or None,
            allow_redirects=False,
        ) as upstream_reply:
            reply_body = await upstream_reply.read()
            return web.Response(
                status=upstream_reply.status,
                headers=_end_to_end(upstream_reply.headers),
                body=reply_body,
            )

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def _serve(upstream: str, port: int) -> None:
    runner = web.AppRunner(create_proxy_app(upstream), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await wait_for_stop()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8701")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.upstream, args.port))


if __name__ == "__main__":
    main()
