"""``GET /v1/businesses/{tax_code}``: one normalised business record (issue #3).

The tax code is validated (check digit) before anything goes upstream: 422 naming
``tax_code``. Unknown → 404 ``business-not-found``. ``Cache-Control`` and ``Age`` say how
fresh the answer is. Adapter errors propagate to the problem middleware.

Optional query parameters ``agency_code`` and ``procedure_code`` (who asked, for which
procedure) are validated (422 naming each) and recorded in the audit record; they do not
change the answer (nor its cache entry).

A warm lookup makes no upstream call, so its cost is the gateway's own: the normalised
tax code of each spelling and the JSON body of each cached record are worked out once
(:func:`_normalized`, :class:`RenderedBodies`) and reused while the record is cached.
"""

from __future__ import annotations

import functools
import math
import weakref

from aiohttp import web

from adapters.business.models import BusinessRecord
from gateway.appkeys import BUSINESS_SERVICE
from gateway.audit.context import note_context
from gateway.businesses.service import business_to_json, normalize_tax_code
from gateway.citizens.context import parse_business_context
from gateway.jsoncodec import dumps_bytes
from gateway.problems import NotFound

routes = web.RouteTableDef()


class RenderedBodies:
    """The JSON body of each record, rendered once, kept exactly as long as the record.

    The service hands out the same (frozen) record object while it caches it, so a hit
    is that very object. An entry is keyed by the record's identity and holds it weakly:
    when the service lets the record go (expired, evicted), its body goes with it, so the
    representatives' names are held no longer than the service's cache holds them. A
    refreshed record is a new object, rendered anew.
    """

    def __init__(self) -> None:
        self._bodies: dict[int, tuple[weakref.ref[BusinessRecord], bytes]] = {}

    def __len__(self) -> int:
        return len(self._bodies)

    def body(self, record: BusinessRecord) -> bytes:
        key = id(record)
        entry = self._bodies.get(key)
        if entry is not None and entry[0]() is record:
            return entry[1]
        body = dumps_bytes(business_to_json(record))
        bodies = self._bodies
        # Runs when the record is freed, before its id can be given to another object.
        bodies[key] = (weakref.ref(record, lambda _: bodies.pop(key, None)), body)
        return body


_bodies = RenderedBodies()

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
        body=_bodies.body(found.record),
        headers={
            "Cache-Control": f"private, max-age={math.floor(found.max_age)}",
            "Age": str(math.floor(found.age)),
        },
        content_type="application/json",
        charset="utf-8",
    )
