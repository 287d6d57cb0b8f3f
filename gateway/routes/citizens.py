"""``POST /v1/citizens/verify`` and ``POST /v1/citizens/lookup``.

Personal ids travel in bodies only, never in URLs. Verify answers verdicts
for exactly the fields the caller sent and nothing more (data minimisation).
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import CITIZEN_SERVICE
from gateway.auth.middleware import parse_json_body
from gateway.identity import parse_claim, parse_lookup_request
from gateway.observability import REQUEST_ID_KEY
from gateway.problems import NotFound

routes = web.RouteTableDef()


@routes.post("/v1/citizens/verify", name="citizens.verify")
async def verify_citizen(request: web.Request) -> web.Response:
    claim = parse_claim(await parse_json_body(request))
    rid = request[REQUEST_ID_KEY]
    result = await request.app[CITIZEN_SERVICE].verify(claim, request_id=rid)
    return web.json_response(result.to_json(rid))


@routes.post("/v1/citizens/lookup", name="citizens.lookup")
async def lookup_citizen(request: web.Request) -> web.Response:
    query = parse_lookup_request(await parse_json_body(request))
    rid = request[REQUEST_ID_KEY]
    found = await request.app[CITIZEN_SERVICE].lookup(query, request_id=rid)
    if found is None:
        raise NotFound(
            "no citizen is registered under this personal id", type_name="citizen-not-found"
        )
    return web.json_response({"citizen": found, "request_id": rid}, dumps=_dumps)


def _dumps(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)
