"""Operations endpoints: liveness, readiness, metrics, the API description."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from adapters.resilience import UpstreamGuard
from gateway.appkeys import READINESS_CHECKS, SERVING, ReadinessCheck
from gateway.problems import json_response

routes = web.RouteTableDef()

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.json"


@routes.get("/healthz", name="ops.healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return json_response({"status": "ok"})


def guard_readiness(guard: UpstreamGuard) -> ReadinessCheck:
    """A readiness check reporting an upstream's guard: an open breaker degrades one
    capability; the gateway itself stays ready."""

    async def check() -> tuple[bool, dict[str, object]]:
        return True, dict(guard.snapshot())

    return check


@routes.get("/readyz", name="ops.readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when the store answers; breakers are reported (an open one degrades, not fails).

    From the moment a stop (SIGTERM) begins, 503 ``draining``: the listener still
    accepts for ``[server] drain_seconds`` so that a load balancer sees this first.
    """
    if request.app[SERVING].draining:  # create_app sets SERVING, and only it mounts this route
        return web.json_response({"status": "draining", "checks": {}}, status=503)
    checks: dict[str, object] = {}
    ready = True
    for name, check in request.app[READINESS_CHECKS].items():
        try:
            ok, detail = await check()
        except Exception as exc:
            ok, detail = False, {"error": type(exc).__name__}
        checks[name] = {"ok": ok, **detail}
        ready = ready and ok
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


#: prometheus-client's own handler: the text format or OpenMetrics as ``Accept`` asks,
#: gzip or deflate as ``Accept-Encoding`` allows, ``?name[]=`` to select families.
_exposition = make_aiohttp_handler()


@routes.get("/metrics", name="ops.metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """The default registry, served by prometheus-client's aiohttp handler."""
    return await _exposition(request)


@routes.get("/openapi.json", name="ops.openapi")
async def openapi(request: web.Request) -> web.Response:
    """The API description, its first server being the URL it is served from."""
    doc = load_openapi()
    servers = doc.get("servers")
    here = {"url": f"{request.scheme}://{request.host}", "description": "this gateway"}
    rest = [s for s in servers if isinstance(s, dict)][1:] if isinstance(servers, list) else []
    return json_response({**doc, "servers": [here, *rest]})


_cache: dict[str, object] = {}


def load_openapi() -> dict[str, object]:
    if "doc" not in _cache:
        _cache["doc"] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    doc = _cache["doc"]
    assert isinstance(doc, dict)
    return doc
