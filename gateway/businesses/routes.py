"""``GET /v1/businesses/{tax_code}``: one normalised business record (issue #3).

The tax code is validated (check digit) before anything goes upstream: 422 naming
``tax_code``. Unknown → 404 ``business-not-found``. ``Cache-Control`` and ``Age`` say how
fresh the answer is. Adapter errors propagate to the problem middleware.

Optional query parameters ``agency_code`` and ``procedure_code`` (who asked, for which
procedure) are validated (422 naming each) and recorded in the audit record; they do not
change the answer (nor its cache entry).
"""

from __future__ import annotations

import math

from aiohttp import web

from gateway.appkeys import BUSINESS_SERVICE
from gateway.audit.context import note_context
from gateway.businesses.service import business_to_json, normalize_tax_code
from gateway.citizens.context import parse_business_context
from gateway.problems import NotFound, json_response

routes = web.RouteTableDef()


@routes.get("/v1/businesses/{tax_code}", name="businesses.read")
async def read_business(request: web.Request) -> web.Response:
    """Look a business up by tax code (10 digits, or 13 for a branch, dash optional)."""
    note_context(request, parse_business_context(request.query))
    tax_code = normalize_tax_code(request.match_info["tax_code"])
    found = await request.app[BUSINESS_SERVICE].get(tax_code)
    if found is None:
        raise NotFound(
            "no business is registered under this tax code", type_name="business-not-found"
        )
    return json_response(
        business_to_json(found.record),
        headers={
            "Cache-Control": f"private, max-age={math.floor(found.max_age)}",
            "Age": str(math.floor(found.age)),
        },
    )
