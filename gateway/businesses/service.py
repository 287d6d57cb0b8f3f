"""Business registration lookups for the one-stop system: validation, cache, coalescing, JSON.

The tax code is normalised (every spelling python-stdnum's ``mst.compact`` accepts) and
validated before anything goes upstream.
:class:`BusinessService` keeps records for ``ttl_seconds`` (0 disables the cache) in a
bounded LRU and coalesces concurrent lookups of one tax code into one upstream call; a
failure is shared by the callers waiting for it but never cached. "Unknown" is not cached
either, so a business registered a minute ago is found at once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.vn import mst

from adapters.business.models import BusinessRecord
from gateway.errors import InvalidRequest
from gateway.jsoncodec import dumps_bytes

BUSINESS_CACHE = Counter(
    "lienthong_business_cache_total",
    "Business record lookups by cache result",
    ["result"],
)

#: What python-stdnum's ``mst.compact`` leaves after removing separators: 10 or 13 ASCII digits.
_COMPACT_TAX_CODE = re.compile(r"[0-9]{10}(?:[0-9]{3})?")


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest([{"field": "tax_code", "message": message}])


def normalize_tax_code(raw: str) -> str:
    """Any spelling ``stdnum.vn.mst.compact`` accepts → ``0100233488`` or ``0100233488-001``.

    ``compact`` drops spaces, dashes and dots wherever they are (``18.00.000.113``,
    ``0100 233 488``, ``0100233488 - 001``), after mapping their Unicode look-alikes
    (no-break spaces, en dashes, middle dots…) to them; the result must then be 10
    digits, or 13 for a branch, and pass ``mst.validate``. Anything else raises
    :class:`~gateway.errors.InvalidRequest` naming ``tax_code``: other characters, a wrong length,
    a ``000`` branch suffix, seven zeros after the province code, a wrong check digit.
    """
    try:
        compact = mst.compact(raw)
    except ValidationError:
        raise _invalid("a tax code has 10 digits, or 13 for a branch (0100233488-001)") from None
    if not _COMPACT_TAX_CODE.fullmatch(compact):
        raise _invalid(
            "a tax code has 10 digits, or 13 for a branch (0100233488-001);"
            " spaces, dashes and dots between them are allowed"
        )
    try:
        mst.validate(compact)
    except InvalidChecksum:
        raise _invalid("the check digit does not match") from None
    except ValidationError:
        if len(compact) == 13 and compact.endswith("000"):
            raise _invalid("a branch suffix is never 000") from None
        raise _invalid("not a tax code the registry issues") from None
    return str(mst.format(compact))


class BusinessLookup(Protocol):
    """What the service needs from the adapter (``adapters.business.BusinessClient``)."""

    async def get(self, tax_code: str) -> BusinessRecord | None: ...


@dataclass(frozen=True)
class CachedBusiness:
    """A record with how fresh it is: ``age`` seconds since fetched, ``max_age`` left, and
    its JSON body (rendered once, when fetched, and cached with the record)."""

    record: BusinessRecord
    fetched_at: float  # on the service's clock
    age: float
    max_age: float
    body: bytes


#: A cache entry: the record, when it was fetched (the service's clock), its JSON body.
_Entry = tuple[BusinessRecord, float, bytes]


class BusinessService:
    """Cached, coalesced business lookups. ``clock`` is monotonic seconds (injectable)."""

    def __init__(
        self,
        client: BusinessLookup,
        *,
        ttl_seconds: float = 600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must not be negative")
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._client = client
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[_Entry | None]] = {}

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    async def get(self, tax_code: str) -> CachedBusiness | None:
        """The record of a normalised tax code, from the cache when fresh; None if unknown."""
        now = self._clock()
        entry = self._cache.get(tax_code)
        if entry is not None:
            if now - entry[1] < self._ttl:
                self._cache.move_to_end(tax_code)
                BUSINESS_CACHE.labels("hit").inc()
                return self._answer(*entry)
            del self._cache[tax_code]
        task = self._in_flight.get(tax_code)
        if task is None:
            BUSINESS_CACHE.labels("miss").inc()
            task = asyncio.ensure_future(self._fetch(tax_code))
            self._in_flight[tax_code] = task
            task.add_done_callback(lambda t: self._fetch_done(tax_code, t))
        else:
            BUSINESS_CACHE.labels("coalesced").inc()
        # shield: one caller giving up must not cancel the call the others wait for
        fetched = await asyncio.shield(task)
        return self._answer(*fetched) if fetched else None

    def _answer(self, record: BusinessRecord, fetched_at: float, body: bytes) -> CachedBusiness:
        age = max(0.0, self._clock() - fetched_at)
        return CachedBusiness(
            record=record,
            fetched_at=fetched_at,
            age=age,
            max_age=max(0.0, self._ttl - age),
            body=body,
        )

    async def _fetch(self, tax_code: str) -> _Entry | None:
        record = await self._client.get(tax_code)
        if record is None:
            return None
        entry = (record, self._clock(), render_business(record))
        if self._ttl > 0:
            self._cache[tax_code] = entry
            self._cache.move_to_end(tax_code)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return entry

    def _fetch_done(self, tax_code: str, task: asyncio.Task[_Entry | None]) -> None:
        if self._in_flight.get(tax_code) is task:
            del self._in_flight[tax_code]
        if not task.cancelled():
            task.exception()  # retrieved here: the waiters re-raise it, none may be left


def business_to_json(record: BusinessRecord) -> dict[str, Any]:
    """The inbound API's business record: stable English keys, representatives a list."""
    return {
        "tax_code": record.tax_code,
        "is_branch": record.is_branch,
        "name": record.name,
        "short_name": record.short_name,
        "foreign_name": record.foreign_name,
        "enterprise_type": record.enterprise_type,
        "status": {"code": record.status_code, "text": record.status_text},
        "founding_date": record.founding_date.isoformat() if record.founding_date else None,
        "head_office_address": record.head_office_address,
        "representatives": list(record.representatives),
        "charter_capital": record.charter_capital,
        "enterprise_id": record.enterprise_id,
    }


def render_business(record: BusinessRecord) -> bytes:
    """The JSON body of ``GET /v1/businesses/{tax_code}`` for ``record``."""
    return dumps_bytes(business_to_json(record))
