"""A sandbox NGSP peer: OAuth2 token endpoints and the business registration lookup.

- ``POST /token``: NGSP style, ``Authorization: Basic base64(key:secret)`` +
  ``grant_type=client_credentials``; ``POST /lgsp/token``: LGSP style, form
  ``client_id``/``client_secret`` (and the ``lgspaccesstoken`` header when configured).
  Tokens live ``token_lifetime_seconds`` on the sandbox's (injectable) clock.
- ``GET /apiCSDLDKDN/1.0/chiTietDoanhNghiep?msdn=``: 401 for a missing, unknown, expired or
  revoked token; unknown tax code → ``200 {"Data": null}`` (or 404 with
  ``not_found_style="404"``).
- Loopback-only admin: ``POST /_admin/misbehaviour`` (a :class:`Misbehaviour` JSON),
  ``POST /_admin/revoke-tokens``, ``POST /_admin/reset``, ``GET /_admin/stats`` (counters,
  and the last 100 ``traceparent`` headers of lookups).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from adapters.business.config import BusinessConfig
from adapters.business.sandbox_data import RawData, fixture_businesses, generated_businesses
from adapters.serving import from_loopback, serve


class Misbehaviour(BaseModel):
    """What the lookup does wrong on purpose. Rates are probabilities in [0, 1]."""

    model_config = ConfigDict(extra="forbid")

    latency_seconds: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)  # 503 with a JSON error body
    malformed_json_rate: float = Field(default=0.0, ge=0, le=1)
    unmappable_rate: float = Field(default=0.0, ge=0, le=1)  # valid JSON, unknown shape
    drop_connection_rate: float = Field(default=0.0, ge=0, le=1)
    #: When > 0, a found record is padded to about this many bytes (sent chunked).
    huge_response_bytes: int = Field(default=0, ge=0)
    #: Refuse every data call with 401 whatever the token (a 401 storm).
    reject_all_tokens: bool = False
    #: The token endpoints answer 503.
    token_endpoint_down: bool = False


class LgspAccessExpectation(BaseModel):
    """The ``lgspaccesstoken`` fields the sandbox's LGSP token endpoint demands."""

    model_config = ConfigDict(extra="forbid")

    access_key: str
    secret_key: SecretStr
    app_name: str
    partner_code: str


class NgspSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: SecretStr = SecretStr("sandbox-consumer-secret")
    client_id: str = "sandbox-client-id"
    client_secret: SecretStr = SecretStr("sandbox-client-secret")
    lgsp_access: LgspAccessExpectation | None = None
    token_lifetime_seconds: float = Field(default=3600.0, gt=0)
    not_found_style: Literal["empty", "404"] = "empty"
    generated_count: int = Field(default=100, ge=0)
    seed: int = 1801
    #: Raw ``Data`` objects added to (or replacing) the built-in ones, keyed by tax code.
    extra_businesses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    misbehaviour: Misbehaviour = Field(default_factory=Misbehaviour)

    @classmethod
    def accepting(
        cls, adapter: BusinessConfig | None, token_lifetime_seconds: float = 3600.0
    ) -> NgspSandboxConfig:
        """A sandbox that accepts exactly the credentials ``adapter`` is configured with
        (None: the sandbox's defaults)."""
        fields: dict[str, object] = {"token_lifetime_seconds": token_lifetime_seconds}
        if adapter is not None:
            for name in ("consumer_key", "consumer_secret", "client_id", "client_secret"):
                value = getattr(adapter.oauth, name, None)
                if value is not None:
                    fields[name] = value.get_secret_value()
        return cls.model_validate(fields)


@dataclass
class SandboxStats:
    token_requests: int = 0
    tokens_issued: int = 0
    lookups: int = 0
    lookups_unauthorized: int = 0
    lookups_by_msdn: Counter[str] = field(default_factory=Counter)
    traceparents: deque[str] = field(default_factory=lambda: deque(maxlen=100))

    def as_json(self) -> dict[str, Any]:
        return {
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "lookups": self.lookups,
            "lookups_unauthorized": self.lookups_unauthorized,
            "lookups_by_msdn": dict(self.lookups_by_msdn),
            "traceparents": list(self.traceparents),
        }


@dataclass
class _Issued:
    expires_at: float
    style: Literal["ngsp", "lgsp"]


class NgspSandbox:
    """The sandbox's state; handlers are its methods."""

    def __init__(
        self,
        config: NgspSandboxConfig,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.clock = clock
        self.misbehaviour = config.misbehaviour
        self.stats = SandboxStats()
        self.tokens: dict[str, _Issued] = {}
        self.businesses: dict[str, RawData] = {
            **generated_businesses(config.generated_count, config.seed),
            **fixture_businesses(),
            **{k.replace("-", ""): v for k, v in config.extra_businesses.items()},
        }
        self.rng = random.Random(config.seed)  # noqa: S311 - misbehaviour dice, not crypto
        self.stopping = asyncio.Event()

    # --- helpers -------------------------------------------------------------------

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def _issue(self, style: Literal["ngsp", "lgsp"], *, scope: str | None) -> web.Response:
        token = secrets.token_urlsafe(24)
        lifetime = self.config.token_lifetime_seconds
        self.tokens[token] = _Issued(expires_at=self.clock() + lifetime, style=style)
        self.stats.tokens_issued += 1
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        if style == "lgsp":
            body["scope"] = scope or "default"
        return web.json_response(body)

    @staticmethod
    def _oauth_error(status: int, error: str) -> web.Response:
        return web.json_response({"error": error}, status=status)

    def _lgsp_access_ok(self, header: str | None) -> bool:
        expected = self.config.lgsp_access
        if expected is None:
            return True
        if not header:
            return False
        try:
            fields = json.loads(base64.b64decode(header, validate=True))
        except (binascii.Error, ValueError):
            return False
        return isinstance(fields, dict) and (
            fields.get("AccessKey") == expected.access_key
            and fields.get("SecretKey") == expected.secret_key.get_secret_value()
            and fields.get("AppName") == expected.app_name
            and fields.get("PartnerCode") == expected.partner_code
        )

    def _bearer_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        issued = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if issued is None or self.clock() >= issued.expires_at:
            return False
        return issued.style != "lgsp" or self._lgsp_access_ok(
            request.headers.get("lgspaccesstoken")
        )

    # --- token endpoints ---------------------------------------------------------

    async def _token_form(self, request: web.Request) -> MultiDictProxy[str | Any] | web.Response:
        """A client-credentials token request's form, or the OAuth2 error that answers it."""
        self.stats.token_requests += 1
        if self.misbehaviour.token_endpoint_down:
            return self._oauth_error(503, "temporarily_unavailable")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type")
        return form

    async def ngsp_token(self, request: web.Request) -> web.Response:
        form = await self._token_form(request)
        if isinstance(form, web.Response):
            return form
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return self._oauth_error(401, "invalid_client")
        if scheme.lower() != "basic" or not (
            secrets.compare_digest(key, self.config.consumer_key)
            and secrets.compare_digest(secret, self.config.consumer_secret.get_secret_value())
        ):
            return self._oauth_error(401, "invalid_client")
        return self._issue("ngsp", scope=None)

    async def lgsp_token(self, request: web.Request) -> web.Response:
        form = await self._token_form(request)
        if isinstance(form, web.Response):
            return form
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and secrets.compare_digest(client_id, self.config.client_id)
            and secrets.compare_digest(client_secret, self.config.client_secret.get_secret_value())
        ):
            return self._oauth_error(401, "invalid_client")
        if not self._lgsp_access_ok(request.headers.get("lgspaccesstoken")):
            return self._oauth_error(401, "invalid_lgspaccesstoken")
        scope = form.get("scope")
        return self._issue("lgsp", scope=scope if isinstance(scope, str) else None)

    # --- the lookup -----------------------------------------------------------------

    async def lookup(self, request: web.Request) -> web.StreamResponse:
        self.stats.lookups += 1
        msdn = request.query.get("msdn", "").replace("-", "").replace(" ", "")
        self.stats.lookups_by_msdn[msdn] += 1
        if traceparent := request.headers.get("traceparent"):
            self.stats.traceparents.append(traceparent)
        bad = self.misbehaviour
        if bad.latency_seconds:
            with contextlib.suppress(TimeoutError):  # the shutdown cuts the wait short
                await asyncio.wait_for(self.stopping.wait(), bad.latency_seconds)
        if bad.reject_all_tokens or not self._bearer_ok(request):
            self.stats.lookups_unauthorized += 1
            return web.json_response(
                {"error": "invalid_token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if self._roll(bad.drop_connection_rate):
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPInternalServerError  # never written: the connection is gone
        if self._roll(bad.error_rate):
            return web.json_response({"StatusCode": 503, "Message": "Lỗi hệ thống"}, status=503)
        if self._roll(bad.malformed_json_rate):
            return web.Response(
                body=b'{"Data": {"MainInformation": {"NAME": "CO',
                status=200,
                content_type="application/json",
            )
        if self._roll(bad.unmappable_rate):
            return web.json_response({"result": {"items": [{"id": msdn}]}, "Data": "ok"})
        data = self.businesses.get(msdn)
        if data is None:
            if self.config.not_found_style == "404":
                return web.json_response({"Data": None, "Message": "Không tìm thấy"}, status=404)
            return web.json_response({"Data": None, "Message": "Không tìm thấy doanh nghiệp"})
        if bad.huge_response_bytes:
            return await self._huge(request, data, bad.huge_response_bytes)
        return web.json_response({"Data": data, "StatusCode": 200, "Message": "Thành công"})

    @staticmethod
    async def _huge(request: web.Request, data: RawData, size: int) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        head = json.dumps({"Data": data}, ensure_ascii=False)[:-1] + ', "Padding": "'
        await resp.write(head.encode())
        chunk = b"x" * 65536
        written = len(head)
        try:
            while written < size:
                await resp.write(chunk)
                written += len(chunk)
            await resp.write(b'"}')
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading, as it should
        return resp

    # --- admin ------------------------------------------------------------------------

    async def set_misbehaviour(self, request: web.Request) -> web.Response:
        try:
            self.misbehaviour = Misbehaviour.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.misbehaviour.model_dump())

    async def revoke_tokens(self, request: web.Request) -> web.Response:
        revoked = len(self.tokens)
        self.tokens.clear()
        return web.json_response({"revoked": revoked})

    async def reset(self, request: web.Request) -> web.Response:
        self.misbehaviour = self.config.misbehaviour
        self.stats = SandboxStats()
        self.tokens.clear()
        return web.json_response({"reset": True})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_json())


SANDBOX = web.AppKey("ngsp_sandbox", NgspSandbox)


@web.middleware
async def _admin_loopback_only(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    if request.path.startswith("/_admin/") and not from_loopback(request):
        return web.json_response({"error": "admin is loopback-only"}, status=403)
    response: web.StreamResponse = await handler(request)
    return response


def create_sandbox_app(
    config: NgspSandboxConfig | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """The sandbox as an aiohttp application; its state is ``app[SANDBOX]``."""
    sandbox = NgspSandbox(config or NgspSandboxConfig(), clock)
    app = web.Application(middlewares=[_admin_loopback_only])
    app[SANDBOX] = sandbox

    async def _stop_sleepers(app: web.Application) -> None:
        sandbox.stopping.set()

    app.on_shutdown.append(_stop_sleepers)
    app.router.add_post("/token", sandbox.ngsp_token)
    app.router.add_post("/lgsp/token", sandbox.lgsp_token)
    app.router.add_get("/apiCSDLDKDN/1.0/chiTietDoanhNghiep", sandbox.lookup)
    app.router.add_post("/_admin/misbehaviour", sandbox.set_misbehaviour)
    app.router.add_post("/_admin/revoke-tokens", sandbox.revoke_tokens)
    app.router.add_post("/_admin/reset", sandbox.reset)
    app.router.add_get("/_admin/stats", sandbox.get_stats)
    return app


async def start_sandbox(
    config: NgspSandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[web.AppRunner, str]:
    """Serve the sandbox; returns the runner (``await runner.cleanup()`` to stop) and base URL."""
    return await serve(create_sandbox_app(config, clock=clock), host, port, shutdown_timeout=1.0)
