"""One JSON exchange with a payment provider: guarded, bounded, recorded, errors converted.

Both providers speak JSON over HTTP. Every call goes through the call guard (the
resilience policy) one attempt at a time, each attempt with its own timeout as a
backstop, reads a bounded body and is recorded once as an upstream exchange.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from adapters.errors import (
    AdapterError,
    CircuitOpen,
    UpstreamBadReply,
    UpstreamFault,
    UpstreamTimeout,
)
from adapters.guard import CallGuard
from adapters.http import connection_failure, outbound_headers, read_limited
from adapters.observability import UpstreamExchange, record_exchange, wall_clock

_OUTCOMES: tuple[tuple[type[AdapterError], str], ...] = (
    (CircuitOpen, "circuit_open"),  # refused by the breaker, never sent
    (UpstreamTimeout, "timeout"),
    (UpstreamFault, "fault"),
    (UpstreamBadReply, "bad_reply"),
)


def _outcome_of(exc: AdapterError) -> str:
    for kind, outcome in _OUTCOMES:
        if isinstance(exc, kind):
            return outcome
    return "unavailable" if exc.status == 503 else "error"


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
        started = wall_clock()
        attempts = 0
        received = 0
        outcome = "ok"
        fault_code: str | None = None

        async def attempt() -> Any:
            nonlocal attempts, received
            attempts += 1
            body = await self._send_once(operation, url, payload, max_bytes)
            received = len(body)
            try:
                return decode(body)
            except ValueError:
                raise UpstreamBadReply(
                    "reply is not JSON", upstream=self._upstream, operation=operation
                ) from None

        try:
            return await self._guard.call(operation, attempt)
        except AdapterError as exc:
            outcome = _outcome_of(exc)
            fault_code = getattr(exc, "code", None)
            raise
        finally:
            record_exchange(
                UpstreamExchange(
                    upstream=self._upstream,
                    operation=operation,
                    request_out=started,
                    response_in=wall_clock(),
                    bytes_out=len(payload),
                    bytes_in=received,
                    outcome=outcome,
                    fault_code=fault_code,
                    attempts=max(attempts, 1),
                )
            )

    async def _send_once(self, operation: str, url: str, payload: bytes, max_bytes: int) -> bytes:
        headers = {
            **outbound_headers(),
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        try:
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
        except TimeoutError:
            raise UpstreamTimeout(
                f"no reply within {self._attempt_timeout} s",
                upstream=self._upstream,
                operation=operation,
            ) from None
        except aiohttp.ClientError as exc:
            raise connection_failure(
                exc,
                f"{type(exc).__name__}",
                upstream=self._upstream,
                operation=operation,
                url=url,
            ) from exc
