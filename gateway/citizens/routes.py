"""``POST /v1/citizens/verify`` and ``POST /v1/citizens/lookup``.

Personal ids travel in bodies only, never in URLs. Verify answers verdicts
for exactly the fields the caller sent and nothing more (data minimisation).

Both take the optional request context (agency, procedure, officer, purpose,
dossier code: :mod:`gateway.citizens.context`); the handler leaves it on the
request, the officer masked and digested, for the audit record
(:data:`~gateway.audit.middleware.AUDIT_CONTEXT`), and the verdict of a
verification (:data:`~gateway.audit.middleware.AUDIT_VERDICT`).
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import AUDIT_LOG, CITIZEN_SERVICE, SECURITY_MONITOR
from gateway.audit.context import note_context
from gateway.audit.middleware import AUDIT_VERDICT
from gateway.auth.keys import CLIENT
from gateway.auth.middleware import parse_json_body
from gateway.citizens import parse_claim, parse_lookup_request
from gateway.http.context import REQUEST_ID_KEY
from gateway.problems import NotFound, json_response

routes = web.RouteTableDef()


@routes.post("/v1/citizens/verify", name="citizens.verify")
async def verify_citizen(request: web.Request) -> web.Response:
    claim = parse_claim(await parse_json_body(request))
    note_context(request, claim.context)
    rid = request[REQUEST_ID_KEY]
    result = await request.app[CITIZEN_SERVICE].verify(claim, request_id=rid)
    request[AUDIT_VERDICT] = result.verdict.value
    _observe_verification(request, claim.id_number, result.verdict.value)
    return json_response(result.to_json(rid))


def _observe_verification(request: web.Request, id_number: str, verdict: str) -> None:
    """Feed the enumeration detector: which client verified which (digested) id, and how."""
    client = request.get(CLIENT)
    if client is None:  # a public path: nobody to attribute the verification to
        return
    digest = request.app[AUDIT_LOG].subject_digest(id_number)
    request.app[SECURITY_MONITOR].observe_verification(client.id, digest, verdict)


@routes.post("/v1/citizens/lookup", name="citizens.lookup")
async def lookup_citizen(request: web.Request) -> web.Response:
    query = parse_lookup_request(await parse_json_body(request))
    note_context(request, query.context)
    rid = request[REQUEST_ID_KEY]
    found = await request.app[CITIZEN_SERVICE].lookup(query, request_id=rid)
    if found is None:
        raise NotFound(
            "no citizen is registered under this personal id", type_name="citizen-not-found"
        )
    return json_response({"citizen": found, "request_id": rid})
