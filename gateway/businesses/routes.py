"""``GET /v1/businesses/{tax_code}``: one normalised business record (issue #3).

The tax code is validated (check digit) before anything goes upstream: 422 naming
``tax_code``. Unknown → 404 ``business-not-found``. ``Cache-Control`` and ``Age`` say how
fresh the answer is. Adapter errors propagate to the problem middleware.

Optional query parameters ``agency_code`` and ``procedure_code`` (who asked, for which
procedure) are validated (422 naming each) and recorded in the audit record; they do not
change the answer (nor its cache entry).

A warm lookup makes no upstream call, so its cost is the gateway's own: the normalised
tax code of each spelling (:func:`_normalized`) and the JSON body of each record (rendered
by the service when it fetches the record, cached with it) are worked out once.
"""

from __future__ import annotations

import functools
import math

from aiohttp import web

from gateway.appkeys import BUSINESS_SERVICE
from gateway.audit.context import note_context
from gateway.businesses.service import normalize_tax_code
from gateway.citizens.context import parse_business_context
from gateway.problems import NotFound

routes = web.RouteTableDef()


#: Spellings of tax codes remembered (a tax code names a business, not a person).
MAX_SPELLINGS = 10_000


@functools.lru_cache(maxsize=MAX_SPELLINGS)
def _normalized(raw: str) -> str:
    """:func:`normalize_tax_code`, remembered per spelling (a refusal is raised every time)."""
    return normalize_tax_code(raw)


@routes.get("/v1/businesses/{tax_code}", name="businesses.read")
async def read_business(request: web.Request) -> web.Response:
    """Look a business up by tax code (10 digits, or 13 for a branch, dash optional)."""
    note_context(request, parse_business_context(request.query))
    tax_code = _normalized(request.match_info["tax_code"])
    found = await request.app[BUSINESS_SERVICE].get(tax_code)
    if found is None:
        raise NotFound(
            "no business is registered under this tax code", type_name="business-not-found"
        )
    return web.Response(
        body=found.body,
        headers={
            "Cache-Control": f"private, max-age={math.floor(found.max_age)}",
            "Age": str(math.floor(found.age)),
        },
        content_type="application/json",
        charset="utf-8",
    )
