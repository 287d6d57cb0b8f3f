"""``lienthong demo``: the whole story of one dossier, against a running gateway.

It plays the one-stop system (client ``motcua-demo``) and the citizen:

1. verify the citizen against the population database;
2. look the business up in the business registration database;
3. bill the dossier's fees (``POST /v1/payments``);
4. pay in the provider's sandbox, as the payer's browser would;
5. come back through the gateway to the one-stop system's return page;
6. receive the signed ``payment.paid`` webhook at a small demo receiver;
7. read the payment back: ``paid``.

Each step is printed; the exit status is non-zero if any step fails. The demo
receiver (:class:`DemoOneStop`) also serves the one-stop system's demo page
(``/``): a dossier with a "Pay the fee" link, used by the browser test. The page
shows one dossier per receiver, billed once: reloading it answers the same payment
(the bill's ``Idempotency-Key`` is the dossier's), never a new one.
Personal data is sent to the gateway but never printed.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp import web

from gateway.auth.signatures import sign_request
from gateway.config import Settings
from gateway.errors import CommandRefused
from gateway.webhook_signatures import WebhookVerificationError, verify

DEMO_CITIZEN = {
    "id_number": "092195004321",
    "full_name": "Trần Thị Thủy",
    "birth_date": "1995-11-02",
    "gender": "female",
}
DEMO_TAX_CODE = "1801234562"
DEMO_FEE_LINES = [
    {"kind": "fee", "code": "PHI-TD", "name": "Phí thẩm định hồ sơ", "amount": 100000},
    {"kind": "charge", "code": "LP-CG", "name": "Lệ phí cấp giấy phép", "amount": 50000},
]


class DemoFailed(CommandRefused):
    """One step of the story did not go as it should."""


@dataclass(frozen=True)
class DemoConfig:
    """Who the demo is and where everything listens (from the embedded default)."""

    gateway_url: str
    client_id: str
    client_secret: str
    webhook_secret: str
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 8799
    provider: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        gateway_url: str | None = None,
        client_id: str = "motcua-demo",
        provider: str | None = None,
        receiver_port: int | None = None,
    ) -> DemoConfig:
        client = next((c for c in settings.clients if c.id == client_id), None)
        if client is None or not client.secrets or client.webhook is None:
            raise DemoFailed(f"client {client_id} needs a secret and a webhook in the config")
        port = receiver_port
        if port is None:
            match = re.match(r"^https?://[^/:]+:(\d+)/", client.webhook.url)
            port = int(match.group(1)) if match else 8799
        else:
            _check_receiver(client.id, client.webhook.url, client.return_url_prefixes, port)
        host = settings.server.host
        if host in ("0.0.0.0", "::"):  # noqa: S104 (comparing, not binding)
            host = "127.0.0.1"
        return cls(
            gateway_url=gateway_url or f"http://{host}:{settings.server.port}",
            client_id=client.id,
            client_secret=client.secrets[0].get_secret_value(),
            webhook_secret=client.webhook.secrets[0].get_secret_value(),
            receiver_port=port,
            provider=provider,
        )

    @property
    def receiver_url(self) -> str:
        return f"http://{self.receiver_host}:{self.receiver_port}"


def _check_receiver(client_id: str, webhook_url: str, prefixes: list[str], port: int) -> None:
    """A receiver on ``port`` gets the webhooks and the payer back, or DemoFailed says why.

    The gateway sends a client's webhooks to its configured ``webhook.url`` and lets the
    payer return only under its ``return_url_prefixes``: a demo receiver elsewhere would
    wait in vain, after billing a payment whose return the gateway refuses.
    """
    origin = f"http://127.0.0.1:{port}/"
    wrong = []
    if not webhook_url.startswith(origin):
        wrong.append(f"clients[{client_id}].webhook.url is {webhook_url}")
    if not any(p and (origin + "return").startswith(p) for p in prefixes):
        wrong.append(f"clients[{client_id}].return_url_prefixes are {prefixes}")
    if wrong:
        raise DemoFailed(
            f"--receiver-port {port}: the gateway would not reach a receiver there ("
            + "; ".join(wrong)
            + f"): point both at {origin} in the configuration the gateway and the demo"
            " read (then --receiver-port is not needed), or leave --receiver-port out"
        )


@dataclass
class DemoOneStop:
    """The one-stop system's side: the dossier page, the return page and the webhook receiver."""

    config: DemoConfig
    session: aiohttp.ClientSession
    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: The dossier the demo page shows (one per receiver: reloads do not bill again).
    dossier_code: str = field(default_factory=lambda: f"DEMO-{uuid.uuid4().hex[:8].upper()}")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.dossier_page)
        app.router.add_get("/return", self.return_page)
        app.router.add_post("/webhooks", self.webhook)
        return app

    async def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """A signed request to the gateway; the decoded JSON answer (DemoFailed if not 2xx)."""
        url = self.config.gateway_url + path
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        signed = sign_request(
            method,
            url,
            {"Content-Type": "application/json", **headers},
            data,
            self.config.client_id,
            self.config.client_secret,
        )
        async with self.session.request(method, url, data=data or None, headers=signed) as r:
            answer = await r.json(content_type=None)
            if r.status >= 300:
                detail = answer.get("detail") if isinstance(answer, dict) else None
                raise DemoFailed(f"{method} {path}: HTTP {r.status} {detail or ''}".strip())
            return answer

    async def bill(self, dossier_code: str) -> dict[str, Any]:
        """Bill a dossier's fees; the payment as the gateway answers it.

        The ``Idempotency-Key`` is derived from the dossier, so billing the same
        dossier again answers the same payment (the gateway replays it).
        """
        body: dict[str, Any] = {
            "dossier_code": dossier_code,
            "procedure_code": "1.001234",
            "agency_code": "000.00.00.H00",
            "fee_lines": DEMO_FEE_LINES,
            "payer": {
                "full_name": DEMO_CITIZEN["full_name"],
                "id_number": DEMO_CITIZEN["id_number"],
            },
            "return_url": f"{self.config.receiver_url}/return",
        }
        if self.config.provider:
            body["provider"] = self.config.provider
        payment: dict[str, Any] = await self.call(
            "POST",
            "/v1/payments",
            body,
            **{"Idempotency-Key": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{dossier_code}"))},
        )
        return payment

    async def dossier_page(self, request: web.Request) -> web.Response:
        """The dossier with its fee bill and a "Pay the fee" link (billed once, then replayed)."""
        code = self.dossier_code
        payment = await self.bill(code)
        page = (
            "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
            "<title>Một cửa (demo)</title></head><body>"
            f"<h1>Hồ sơ {html.escape(code)}</h1>"
            f"<p>Phí, lệ phí: <span id='amount'>{payment['amount']}</span> VND</p>"
            f"<a id='pay-link' href='{html.escape(str(payment['pay_url']))}'>Pay the fee</a>"
            "</body></html>"
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def return_page(self, request: web.Request) -> web.Response:
        """Where the payer lands: the state as the gateway reports it (not the query string)."""
        payment_id = request.query.get("payment_id", "")
        if not re.fullmatch(r"pay_[a-z2-7]{20}", payment_id):
            raise web.HTTPBadRequest(text="no payment id")
        payment = await self.call("GET", f"/v1/payments/{payment_id}")
        status = html.escape(str(payment["status"]))
        page = (
            "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
            f"<title>Payment {status}</title></head><body>"
            f"<p>Payment <span id='payment-status'>{status}</span></p></body></html>"
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def webhook(self, request: web.Request) -> web.Response:
        """Standard Webhooks: verify the signature, then record the event (dedupe by id)."""
        body = await request.read()
        try:
            msg_id = verify(
                [self.config.webhook_secret], request.headers, body, now=datetime.now(UTC)
            )
        except WebhookVerificationError:
            return web.Response(status=401)
        event = json.loads(body)
        if all(e["id"] != msg_id for e in self.events):
            self.events.append(event)
            self.arrived.set()
        return web.Response(status=204)

    async def wait_for_event(self, payment_id: str, event_type: str) -> dict[str, Any]:
        """The first verified event of ``event_type`` for ``payment_id``."""
        async with asyncio.timeout(self.config.timeout):
            while True:
                for event in self.events:
                    if event["type"] == event_type and event["data"]["payment_id"] == payment_id:
                        return event
                self.arrived.clear()
                await self.arrived.wait()


async def pay_in_sandbox(session: aiohttp.ClientSession, pay_url: str) -> str:
    """Be the payer: open the provider's page, press Pay, follow the way back; the final URL."""
    async with session.get(pay_url) as r:
        page = await r.text()
        if r.status != 200:
            raise DemoFailed(f"the provider's pay page answered HTTP {r.status}")
        page_url = str(r.url)
    action = re.search(r"<form method='post' action='([^']+)'", page)
    if action is None:
        raise DemoFailed("the provider's pay page has no Pay button")
    async with session.post(
        urljoin(page_url, action.group(1)), data={"outcome": "paid"}, allow_redirects=True
    ) as r:
        await r.read()
        if r.status != 200:
            raise DemoFailed(f"the way back from the provider ended with HTTP {r.status}")
        return str(r.url)


async def run_demo(config: DemoConfig, *, out: Callable[[str], None] = print) -> int:
    """Tell the whole story; 0 when every step succeeded."""
    step = 0

    def say(text: str) -> None:
        nonlocal step
        step += 1
        out(f"[{step}] {text}")

    timeout = aiohttp.ClientTimeout(total=config.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        one_stop = DemoOneStop(config, session)
        runner = web.AppRunner(one_stop.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, config.receiver_host, config.receiver_port).start()
            say(f"demo one-stop system listening on {config.receiver_url} (webhooks, return page)")
            verdict = await one_stop.call("POST", "/v1/citizens/verify", DEMO_CITIZEN)
            if verdict.get("verdict") != "match":
                raise DemoFailed(f"citizen verification answered {verdict.get('verdict')}")
            say(f"citizen verified against the population database: {verdict['verdict']}")
            business = await one_stop.call("GET", f"/v1/businesses/{DEMO_TAX_CODE}")
            say(f"business {DEMO_TAX_CODE} found: {business.get('name')}")
            payment = await one_stop.bill(f"DEMO-{uuid.uuid4().hex[:8].upper()}")
            if payment["status"] != "pending" or not payment.get("pay_url"):
                raise DemoFailed(f"the payment is {payment['status']}, expected pending")
            say(
                f"payment {payment['payment_id']} created at {payment['provider']}:"
                f" {payment['amount']} VND, {payment['status']}"
            )
            landed = await pay_in_sandbox(session, payment["pay_url"])
            if not landed.startswith(config.receiver_url + "/return"):
                raise DemoFailed("the payer did not come back to the one-stop system")
            say("paid in the provider's sandbox; the payer is back on the one-stop system's page")
            event = await one_stop.wait_for_event(payment["payment_id"], "payment.paid")
            say(f"signed webhook received and verified: {event['type']} ({event['id']})")
            final = await one_stop.call("GET", f"/v1/payments/{payment['payment_id']}")
            if final["status"] != "paid":
                raise DemoFailed(f"the payment reads {final['status']}, expected paid")
            say(f"payment {payment['payment_id']} reads {final['status']}: the story is complete")
        except (DemoFailed, aiohttp.ClientError, TimeoutError, OSError) as exc:
            out(f"[{step + 1}] FAILED: {exc or type(exc).__name__}")
            return 1
        finally:
            await runner.cleanup()
    return 0


async def serve_demo_page(config: DemoConfig, stop: asyncio.Event) -> None:
    """Serve the one-stop system's demo page and receiver until ``stop`` is set."""
    async with aiohttp.ClientSession() as session:
        runner = web.AppRunner(DemoOneStop(config, session).app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, config.receiver_host, config.receiver_port).start()
            await stop.wait()
        finally:
            await runner.cleanup()
