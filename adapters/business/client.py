"""The business registration client: ``GET apiCSDLDKDN/1.0/chiTietDoanhNghiep?msdn=``.

One logical lookup is one :meth:`CallGuard.call`; inside an attempt a 401 forces one token
refresh and exactly one retry (a 401 on the retry is an :class:`UpstreamAuthError`, never a
loop). "Not found" is HTTP 404 or a reply whose ``Data`` is null/empty (the sandbox answers
``200 {"Data": null}`` by default, 404 when configured). Raw replies are never logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog

from adapters.business.config import BusinessConfig
from adapters.business.models import BusinessRecord
from adapters.business.reply import ReplyShapeError, is_empty_reply, record_from_reply
from adapters.errors import UpstreamAuthError, UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.http import outbound_headers, read_limited
from adapters.oauth import TokenProvider
from adapters.observability import (
    ExchangeTally,
    map_aiohttp_errors,
    upstream_exchange,
    wall_clock,
)

UPSTREAM = "business"
OPERATION = "chiTietDoanhNghiep"

_log = structlog.get_logger("adapters.business")


class _TokenRefused(Exception):
    """Internal: the data call answered 401 with this token."""


class BusinessClient:
    """Looks businesses up by tax code in the national registration database."""

    def __init__(
        self,
        config: BusinessConfig,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        tokens: TokenProvider,
        *,
        wall: Callable[[], float] = wall_clock,
    ) -> None:
        self._config = config
        self._session = session
        self._guard = guard
        self._tokens = tokens
        self._wall = wall

    async def get(self, tax_code: str) -> BusinessRecord | None:
        """The record of ``tax_code`` (already normalised by the caller), or None if unknown."""
        try:
            with upstream_exchange(UPSTREAM, OPERATION, clock=self._wall) as tally:
                record = await self._guard.call(OPERATION, lambda: self._attempt(tax_code, tally))
                if record is None:
                    tally.outcome = "not_found"
                return record
        finally:
            # DEBUG: the gateway logs this exchange at INFO as its operational record.
            _log.debug(
                "business.lookup",
                upstream=UPSTREAM,
                operation=OPERATION,
                tax_code=tax_code,
                outcome=tally.outcome,
                attempts=tally.attempts,
            )

    async def _attempt(self, tax_code: str, tally: ExchangeTally) -> BusinessRecord | None:
        tally.attempts += 1
        token = await self._tokens.token()
        try:
            return await self._exchange(tax_code, token, tally)
        except _TokenRefused:
            pass
        self._tokens.invalidate(token)
        _log.info("business.token_refused_retrying", upstream=UPSTREAM)
        fresh = await self._tokens.token()
        try:
            return await self._exchange(tax_code, fresh, tally)
        except _TokenRefused:
            raise UpstreamAuthError(
                "the registration service refused a freshly issued token",
                upstream=UPSTREAM,
                operation=OPERATION,
            ) from None

    async def _exchange(
        self, tax_code: str, token: str, tally: ExchangeTally
    ) -> BusinessRecord | None:
        headers = {
            "Accept": "application/json",
            **outbound_headers(),
            **self._tokens.extra_headers(),
            "Authorization": f"Bearer {token}",
        }
        with map_aiohttp_errors(
            upstream=UPSTREAM,
            operation=OPERATION,
            url=self._config.lookup_url,
            timeout_detail="lookup timed out",
            failure_detail="lookup failed: {error}",
        ):
            async with asyncio.timeout(self._config.timeout_seconds):
                async with self._session.get(
                    self._config.lookup_url, params={"msdn": tax_code}, headers=headers
                ) as resp:
                    status = resp.status
                    if status == 401:
                        raise _TokenRefused
                    body = await read_limited(resp, self._config.max_reply_bytes)
        tally.bytes_in += len(body)
        if status == 404:
            return None
        if status != 200:
            raise UpstreamFault(
                f"registration service answered HTTP {status}",
                code=f"http-{status}",
                server_side=status >= 500 or status == 429,
                upstream=UPSTREAM,
                operation=OPERATION,
            )
        return self._map(body, tax_code)

    @staticmethod
    def _map(body: bytes, tax_code: str) -> BusinessRecord | None:
        try:
            reply: Any = json.loads(body)
        except ValueError as exc:
            raise UpstreamBadReply(
                "reply is not JSON", upstream=UPSTREAM, operation=OPERATION
            ) from exc
        if is_empty_reply(reply):
            return None
        try:
            return record_from_reply(reply, tax_code)
        except ReplyShapeError as exc:
            _log.warning("business.reply_unmappable", upstream=UPSTREAM, reason=str(exc))
            raise UpstreamBadReply(
                f"reply cannot be mapped: {exc}", upstream=UPSTREAM, operation=OPERATION
            ) from exc
