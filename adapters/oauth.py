"""OAuth2 client credentials for REST upstreams reached through NGSP or a provincial LGSP.

Two token styles exist in production (see ``protocols.md``):

- ``ngsp``: ``POST {token_url}`` with ``Authorization: Basic base64(key:secret)`` and the
  form ``grant_type=client_credentials``;
- ``lgsp``: ``POST {token_url}`` with the form ``grant_type, client_id, client_secret``,
  and, in some provinces, a ``lgspaccesstoken`` header (base64 of a small JSON object).

:class:`TokenProvider` caches the token, refreshes it ``refresh_margin_seconds`` before it
expires and lets exactly one refresh run at a time however many calls wait for it. Tokens
and secrets are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from adapters.config import OAuthConfig
from adapters.errors import (
    UpstreamAuthError,
    UpstreamBadReply,
    UpstreamFault,
)
from adapters.http import outbound_headers, read_limited
from adapters.observability import map_aiohttp_errors

_log = structlog.get_logger("adapters.oauth")

LGSP_ACCESS_TOKEN_HEADER = "lgspaccesstoken"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # on the provider's clock


class TokenProvider:
    """A cached client-credentials token with single-flight refresh.

    ``clock`` is monotonic seconds (injectable so tests need not wait).
    """

    def __init__(
        self,
        config: OAuthConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.monotonic,
        upstream: str = "oauth",
    ) -> None:
        self._config = config
        self._session = session
        self._clock = clock
        self._upstream = upstream
        self._key, self._secret = config.credentials()
        self._extra = (
            {LGSP_ACCESS_TOKEN_HEADER: config.lgsp_access_token.header_value()}
            if config.lgsp_access_token
            else {}
        )
        self._current: _Token | None = None
        self._refresh: asyncio.Task[_Token] | None = None
        self.refreshes = 0  # token requests sent, for operators and tests

    def extra_headers(self) -> dict[str, str]:
        """Headers data calls carry besides the Bearer token (``lgspaccesstoken`` if set)."""
        return dict(self._extra)

    async def token(self) -> str:
        """A valid access token; fetches one (once, however many callers wait) when due."""
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        refresh = self._refresh
        if refresh is None:
            refresh = asyncio.ensure_future(self._fetch())
            self._refresh = refresh
            refresh.add_done_callback(self._refresh_done)
        # shield: a caller's timeout must not cancel the refresh the others wait for
        token = await asyncio.shield(refresh)
        return token.value

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after the peer refused it, unless a newer one already replaced it."""
        if self._current is not None and self._current.value == token:
            self._current = None
            _log.info("oauth.token_invalidated", upstream=self._upstream)

    def _refresh_done(self, task: asyncio.Task[_Token]) -> None:
        if self._refresh is task:
            self._refresh = None
        if task.cancelled():
            return
        if task.exception() is None:  # also marks a failure as retrieved
            self._current = task.result()

    def _request(self) -> tuple[dict[str, str], dict[str, str]]:
        headers = {"Accept": "application/json", **outbound_headers(), **self._extra}
        form = {"grant_type": "client_credentials"}
        if self._config.style == "ngsp":
            pair = f"{self._key}:{self._secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = self._key
            form["client_secret"] = self._secret
        if self._config.scope:
            form["scope"] = self._config.scope
        return headers, form

    async def _fetch(self) -> _Token:
        self.refreshes += 1
        headers, form = self._request()
        started = self._clock()
        with map_aiohttp_errors(
            upstream=self._upstream,
            operation="token",
            url=self._config.token_url,
            timeout_detail="token request timed out",
            failure_detail="token request failed: {error}",
        ):
            async with asyncio.timeout(self._config.timeout_seconds):
                async with self._session.post(
                    self._config.token_url, data=form, headers=headers
                ) as resp:
                    body = await read_limited(resp, self._config.max_reply_bytes)
                    status = resp.status
        if status in (400, 401, 403):
            _log.warning("oauth.token_refused", upstream=self._upstream, status=status)
            raise UpstreamAuthError(
                f"token endpoint refused the credentials (HTTP {status})",
                upstream=self._upstream,
                operation="token",
            )
        if status != 200:
            raise UpstreamFault(
                f"token endpoint answered HTTP {status}",
                code=f"http-{status}",
                server_side=status >= 500,
                upstream=self._upstream,
                operation="token",
            )
        token = self._parse(body, started)
        _log.info(
            "oauth.token_obtained",
            upstream=self._upstream,
            refresh_in_ms=round((token.refresh_at - started) * 1000, 3),
        )
        return token

    def _parse(self, body: bytes, started: float) -> _Token:
        def bad(why: str) -> UpstreamBadReply:
            return UpstreamBadReply(
                f"token reply unusable: {why}", upstream=self._upstream, operation="token"
            )

        try:
            reply: Any = json.loads(body)
        except ValueError as exc:
            raise bad("not JSON") from exc
        if not isinstance(reply, dict):
            raise bad("not a JSON object")
        value = reply.get("access_token")
        if not isinstance(value, str) or not value:
            raise bad("no access_token")
        token_type = reply.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise bad("token_type is not bearer")
        raw_expiry = reply.get("expires_in", self._config.default_expires_in_seconds)
        try:
            expires_in = float(raw_expiry)
        except (TypeError, ValueError) as exc:
            raise bad("expires_in is not a number") from exc
        if expires_in <= 0:
            raise bad("expires_in is not positive")
        lifetime = max(expires_in - self._config.refresh_margin_seconds, expires_in / 2)
        return _Token(value=value, refresh_at=started + lifetime)
