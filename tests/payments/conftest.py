"""The payment flow end to end: the real gateway, both payment sandboxes, a webhook receiver.

Everything runs on loopback with port 0. The gateway's socket is bound first so
that the sandboxes (started by the same :func:`gateway.dev.embedded.start_sandboxes`
that ``lienthong run`` uses) call back to it; a small receiver plays the
one-stop system's webhook endpoint and verifies every signature. With
``LIENTHONG_TEST_POSTGRES_DSN`` set, every test runs on PostgreSQL too (a schema
of its own).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from yarl import URL

from gateway.config import Settings, config_path, load_settings
from gateway.dev.embedded import Sandboxes
from gateway.server import bind_listeners
from gateway.store import Store, StoreConfig, open_store
from gateway.webhook_signatures import WebhookVerificationError, new_secret, verify
from tests.support.gateway import SECRETS, Gateway, Peer, embedded_gateway, serve

POSTGRES_DSN_ENV = "LIENTHONG_TEST_POSTGRES_DSN"
RETURN_PREFIX = "http://127.0.0.1:8799/"
PAYER = {"full_name": "Trần Thị Thủy", "id_number": "092195004321"}

#: Quick workers, so that recoveries happen within a test.
FAST_PAYMENTS: dict[str, Any] = {
    "polling": {
        "pending_age_seconds": 0.3,
        "backoff_initial_seconds": 0.2,
        "backoff_max_seconds": 0.5,
        "interval_seconds": 0.1,
        "expiry_query_grace_seconds": 1.0,
    },
    "webhooks": {
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.3,
        "poll_interval_seconds": 0.05,
        "lease_seconds": 5,
        "attempt_timeout_seconds": 2,
    },
}


def payment_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/payments`` body (a fee and a charge: 150 000 dong)."""
    body: dict[str, Any] = {
        "dossier_code": "000.00.00.H00-260301-0001",
        "procedure_code": "1.001234",
        "agency_code": "000.00.00.H00",
        "fee_lines": [
            {"kind": "fee", "code": "PHI01", "name": "Phí thẩm định", "amount": 100000},
            {"kind": "charge", "code": "LP01", "name": "Lệ phí cấp giấy", "amount": 50000},
        ],
        "payer": dict(PAYER),
        "return_url": RETURN_PREFIX + "dossiers/0001/paid",
    }
    body.update(overrides)
    return body


@dataclass
class Delivery:
    """One webhook the receiver accepted."""

    webhook_id: str
    type: str
    payment_id: str
    status: str
    body: str


@dataclass
class WebhookReceiver:
    """The one-stop system's webhook endpoint: verifies, records, can be taken down."""

    secret: str
    url: str = ""
    down: bool = False
    accepted: list[Delivery] = field(default_factory=list)
    refused: int = 0
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.down:
            self.refused += 1
            return web.Response(status=503)
        try:
            msg_id = verify([self.secret], request.headers, body, now=datetime.now(UTC))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        event = json.loads(body)
        self.accepted.append(
            Delivery(
                msg_id,
                event["type"],
                event["data"]["payment_id"],
                event["data"]["status"],
                body.decode(),
            )
        )
        return web.Response(status=204)

    def for_payment(self, payment_id: str) -> list[Delivery]:
        return [d for d in self.accepted if d.payment_id == payment_id]

    def types_for(self, payment_id: str) -> list[str]:
        """Event types of one payment in arrival order, each webhook-id counted once."""
        seen: set[str] = set()
        out = []
        for d in self.for_payment(payment_id):
            if d.webhook_id not in seen:
                seen.add(d.webhook_id)
                out.append(d.type)
        return out


@dataclass
class PayerVisit:
    """What the payer saw at the provider: the reference and where the browser went next."""

    reference: str
    return_location: str


async def pay_at_sandbox(
    session: aiohttp.ClientSession, payment: dict[str, Any], outcome: str = "paid"
) -> PayerVisit:
    """Be the payer at a payment sandbox: open the pay URL, press the button, stop there."""
    async with session.get(payment["pay_url"]) as r:
        page = await r.text()
        assert r.status == 200, page
        page_url = r.url
    reference = re.search(r"id='reference'>([A-Za-z0-9]+)<", page)
    action = re.search(r"<form method='post' action='([^']+)'", page)
    assert reference is not None, page
    assert action is not None, page
    async with session.post(
        page_url.join(URL(action.group(1))),
        data={"outcome": outcome},
        allow_redirects=False,
    ) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    return PayerVisit(reference.group(1), location)


@dataclass
class PaymentHarness:
    """The gateway, the sandboxes and the receiver of one test."""

    gateway: Gateway
    sandboxes: Sandboxes
    receiver: WebhookReceiver
    store_config: StoreConfig
    settings: Settings
    stack: AsyncExitStack

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.gateway.session

    def peer(self, provider: str) -> Peer:
        sandboxes = self.sandboxes
        return Peer(sandboxes.base_urls[provider], self.session)

    async def create(
        self,
        provider: str = "dvcqg",
        *,
        key: str | None = None,
        client: str = "motcua-demo",
        **overrides: Any,
    ) -> tuple[int, dict[str, Any], Any]:
        """``POST /v1/payments`` with a fresh (or the given) Idempotency-Key."""
        body = payment_body(provider=provider, **overrides)
        return await self.gateway.call(
            "POST",
            "/v1/payments",
            body,
            client=client,
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
        )

    async def created(self, provider: str = "dvcqg", **overrides: Any) -> dict[str, Any]:
        status, payment, _ = await self.create(provider, **overrides)
        assert status == 201, payment
        return payment

    async def read(self, payment_id: str, *, refresh: bool = False) -> dict[str, Any]:
        path = f"/v1/payments/{payment_id}" + ("?refresh=true" if refresh else "")
        status, payment, _ = await self.gateway.call("GET", path)
        assert status == 200, payment
        return payment

    async def pay(self, payment: dict[str, Any], outcome: str = "paid") -> PayerVisit:
        """Be the payer: open the pay URL, press the button, stop at the redirect."""
        return await pay_at_sandbox(self.session, payment, outcome)

    async def misbehave(self, provider: str, **changes: Any) -> None:
        await self.peer(provider).admin("misbehaviour", changes)

    async def stats(self, provider: str) -> dict[str, Any]:
        return await self.peer(provider).admin("stats")

    async def open_store(self) -> Store:
        """A second connection to the gateway's store (closed with the harness)."""
        store = await open_store(self.store_config)
        self.stack.push_async_callback(store.close)
        return store

    async def start_another_gateway(self) -> Gateway:
        """A second gateway on the same store (a restart, or another instance)."""
        return await self.gateway.another(self.stack, bound=bind_listeners(self.settings))

    async def metric(self, sample: str) -> float:
        """The value of one exact Prometheus sample line prefix (0 when absent)."""
        async with self.session.get(self.gateway.url + "/metrics") as r:
            text = await r.text()
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 15.0, what: str = "condition"
) -> None:
    """Wait until ``check()`` is true (a generous did-not-hang bound, not a timing claim)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_status(
    harness: PaymentHarness, payment_id: str, status: str, *, within: float = 15.0
) -> dict[str, Any]:
    """Poll ``GET /v1/payments/{id}`` until it shows ``status``."""
    seen: dict[str, Any] = {}

    async def check() -> bool:
        seen.update(await harness.read(payment_id))
        return bool(seen["status"] == status)

    await eventually(check, within=within, what=f"{payment_id} to be {status} (was {seen})")
    return seen


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_config(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreConfig]:
    """The gateway's store: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield StoreConfig(url=f"sqlite:///{tmp_path}/gw.db")
        return
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(f"PostgreSQL run skipped: set {POSTGRES_DSN_ENV} to run it")
    schema = "p_" + secrets.token_hex(8)
    yield StoreConfig(url=dsn, schema_name=schema, pool_size=10)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, table by table."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        out[key] = (
            _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return out


def harness_settings(
    store: StoreConfig,
    receiver_url: str,
    webhook_secret: str,
    return_url_prefixes: list[str],
    server: dict[str, Any] | None = None,
    upstreams: dict[str, Any] | None = None,
    **payments: Any,
) -> Settings:
    """The embedded default, on free ports, with fast payment workers; ``upstreams``
    is laid over the default's ``[upstreams]`` tables (a provider's ``adapter`` keys)."""
    section = {**FAST_PAYMENTS, **payments}
    extra: dict[str, Any] = {}
    if upstreams:
        default = tomllib.loads(config_path(None).read_text(encoding="utf-8"))
        extra["upstreams"] = _merged(default.get("upstreams", {}), upstreams)
    clients = [
        {
            "id": "motcua-demo",
            "secrets": [SECRETS["motcua-demo"]],
            "operations": ["payments.create", "payments.read", "payments.cancel"],
            "rate_per_second": 1000.0,
            "burst": 1000.0,
            "return_url_prefixes": return_url_prefixes,
            "webhook": {"url": receiver_url, "secrets": [webhook_secret]},
        },
        {
            "id": "portal-demo",
            "secrets": [SECRETS["portal-demo"]],
            "operations": ["payments.create", "payments.read", "payments.cancel"],
            "return_url_prefixes": [RETURN_PREFIX],
        },
    ]
    return load_settings(
        None,
        environment="test",
        server={"host": "127.0.0.1", "port": 0, "tls_port": 0, **(server or {})},
        sandbox={
            "enabled": False,
            "population_port": 0,
            "ngsp_port": 0,
            "dvcqg_port": 0,
            "vnpay_port": 0,
        },
        store={
            "url": store.url,
            "schema_name": store.schema_name,
            "pool_size": store.pool_size,
        },
        payments=section,
        clients=clients,
        **extra,
    )


@pytest.fixture
def payments_overrides() -> dict[str, Any]:
    """Extra ``[payments]`` settings for one test (override the fixture to change them)."""
    return {}


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    """Extra ``[server]`` settings for one test (override the fixture to change them)."""
    return {}


@pytest.fixture
def upstreams_overrides() -> dict[str, Any]:
    """Extra ``[upstreams]`` settings for one test, laid over the default's (override the
    fixture to change them)."""
    return {}


@pytest.fixture
def return_url_prefixes() -> list[str]:
    """The demo client's allowed return URLs (override the fixture to change them)."""
    return [RETURN_PREFIX]


@pytest.fixture
async def harness(
    store_config: StoreConfig,
    tmp_path: Path,
    payments_overrides: dict[str, Any],
    return_url_prefixes: list[str],
    server_overrides: dict[str, Any],
    upstreams_overrides: dict[str, Any],
) -> AsyncIterator[PaymentHarness]:
    async with AsyncExitStack() as stack:
        receiver = WebhookReceiver(secret=new_secret())
        app = web.Application()
        app.router.add_post("/webhooks", receiver.handle)
        receiver.url = await serve(app, stack) + "/webhooks"
        settings = harness_settings(
            store_config,
            receiver.url,
            receiver.secret,
            return_url_prefixes,
            server_overrides,
            upstreams_overrides,
            **payments_overrides,
        )
        gateway, sandboxes = await embedded_gateway(stack, settings, tmp_path)
        yield PaymentHarness(gateway, sandboxes, receiver, store_config, gateway.settings, stack)
