"""One JSON exchange with a payment provider: guarded, bounded, recorded, errors converted.

Both providers speak JSON over HTTP. Every call goes through the call guard (the
resilience policy) one attempt at a time, each attempt with its own timeout as a
backstop, reads a bounded body and is recorded once as an upstream exchange.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp

from adapters.errors import UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.http import make_session, outbound_headers, read_limited
from adapters.observability import map_aiohttp_errors, upstream_exchange

P = TypeVar("P")


@asynccontextmanager
async def open_provider(
    build: Callable[..., P], config: object, guard: CallGuard, **options: Any
) -> AsyncIterator[P]:
    """``build(config, session, guard, **options)`` on a session of its own, closed on exit:
    each provider package's ``open_client``."""
    async with make_session() as session:
        yield build(config, session, guard, **options)


class JsonExchange:
    """Sends JSON requests to one provider through a guard and returns the decoded reply."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        *,
        upstream: str,
        attempt_timeout: float,
    ) -> None:
        self._session = session
        self._guard = guard
        self._upstream = upstream
        self._attempt_timeout = attempt_timeout

    async def post(
        self,
        operation: str,
        url: str,
        message: Mapping[str, Any],
        *,
        max_bytes: int,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        """POST ``message`` as JSON; the decoded JSON reply (an object or a list).

        ``decode`` reads the reply (``orjson.loads`` for the day lists' large pages:
        several times faster; it refuses what ``json`` would let through, NaN and
        text that is not UTF-8, as a bad reply).
        """
        payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
        with upstream_exchange(self._upstream, operation) as tally:
            tally.bytes_out = len(payload)

            async def attempt() -> Any:
                tally.attempts += 1
                body = await self._send_once(operation, url, payload, max_bytes)
                tally.bytes_in = len(body)
                try:
                    return decode(body)
                except ValueError:
                    raise UpstreamBadReply(
                        "reply is not JSON", upstream=self._upstream, operation=operation
                    ) from None

            return await self._guard.call(operation, attempt)

    async def _send_once(self, operation: str, url: str, payload: bytes, max_bytes: int) -> bytes:
        headers = {
            **outbound_headers(),
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        with map_aiohttp_errors(
            upstream=self._upstream,
            operation=operation,
            url=url,
            timeout_detail=f"no reply within {self._attempt_timeout} s",
        ):
            async with self._session.post(
                url,
                data=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._attempt_timeout),
            ) as resp:
                if resp.status >= 400:
                    raise UpstreamFault(
                        f"HTTP {resp.status}",
                        code=str(resp.status),
                        server_side=resp.status >= 500,
                        upstream=self._upstream,
                        operation=operation,
                    )
                return await read_limited(resp, max_bytes)
