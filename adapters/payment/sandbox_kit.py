"""What both payment sandboxes share: misbehaviour, callback delivery, pay page, admin API.

A sandbox is a real peer on loopback. Each provider's sandbox module supplies the
wire (:class:`SandboxWire`: how a callback and the payer's return look, and what
answer closes a callback); this module does the rest:

- ``GET /pay/{key}``: the payment page (forms with buttons ``#pay`` and ``#cancel``);
  ``POST /pay/{key}`` settles and redirects the browser to the return URL;
- callbacks are delivered in the background, retried until the gateway's answer
  closes them, and misbehave on demand (:class:`Misbehaviour`; a provider may add
  knobs of its own by subclassing it, as VNPay does);
- ``/_admin/misbehaviour``, ``/_admin/reset``, ``/_admin/stats``, ``/_admin/pay``,
  ``/_admin/seed`` (loopback clients only). ``POST /_admin/misbehaviour`` with a
  JSON object changes only the knobs it names; ``GET`` shows them all.

What a payment's callbacks and return say is fixed when the payer settles it, from
the misbehaviour in force at that moment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.aliases import Sleep
from adapters.aliases import WallClock as Clock
from adapters.http import make_session
from adapters.payment.base import vietnam_now
from adapters.payment.config import ProviderStatus
from adapters.payment.sandbox_ledger import SandboxLedger, SandboxPayment
from adapters.serving import from_loopback, json_object, serving
from adapters.serving import serve as serve_app
from adapters.systems import SandboxSite

#: A provider sandbox's config class (``DvcqgSandboxConfig``, ``VnpaySandboxConfig``).
ProviderSandboxConfig = TypeVar("ProviderSandboxConfig", bound=BaseModel)

SettleOutcome = Literal["paid", "failed", "cancelled"]

_log = structlog.get_logger("adapters.payment.sandbox")


class Misbehaviour(BaseModel):
    """What the sandbox does wrong on purpose (all off by default)."""

    model_config = ConfigDict(extra="forbid")

    #: Copies of each callback sent one after another (each retried until closed).
    duplicate_callbacks: int = Field(default=1, ge=1, le=100)
    #: Identical copies sent at the same instant (``asyncio.gather``), each time.
    simultaneous_callbacks: int = Field(default=1, ge=1, le=100)
    #: After the real callback, send a stale one with this status (out of order).
    out_of_order: Literal["pending", "failed"] | None = None
    #: Seconds to wait before the first callback (late).
    callback_delay: float = Field(default=0.0, ge=0)
    #: Never send callbacks (lost): the gateway must poll or reconcile.
    never_send: bool = False
    #: Report ``amount + amount_delta`` as paid (wrong amount).
    amount_delta: int = 0
    #: Corrupt the checksum of callbacks and returns.
    bad_checksum: bool = False
    #: Seconds a status query waits before answering (slow).
    status_delay: float = Field(default=0.0, ge=0)
    #: Answer status queries with this HTTP status and no body (failing).
    status_failure: int | None = Field(default=None, ge=400, le=599)
    #: Callbacks and returns name this reference (``vnp_TxnRef`` / ``MaThamChieu``)
    #: instead of the payment's, correctly signed: an order the gateway does not know,
    #: of any shape (empty, too long, punctuation, Vietnamese letters).
    reference: str | None = Field(default=None, max_length=255)
    #: Callbacks and returns name this merchant (``vnp_TmnCode`` / ``MaDoiTac``)
    #: instead of the configured one, still signed with the configured secret.
    merchant_code: str | None = Field(default=None, max_length=64)
    #: Hundredths of a dong added to the amount callbacks and returns report (VNPay: a
    #: ``vnp_Amount`` that is not a multiple of 100; the platform: a decimal ``SoTien``).
    amount_hundredths: int = Field(default=0, ge=0, le=99)


class CallbackDelivery(BaseModel):
    """How hard the sandbox tries to deliver one callback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=5, ge=1)
    retry_interval: float = Field(default=1.0, ge=0)
    timeout: float = Field(default=5.0, gt=0)


@dataclass(frozen=True)
class OutboundCallback:
    """One HTTP request to the gateway's callback endpoint (``url`` already has any query)."""

    method: str
    url: str
    body: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class ReportedAs:
    """What callbacks and returns say in place of the truth (all None / 0: the truth)."""

    reference: str | None = None
    merchant_code: str | None = None
    amount_hundredths: int = 0

    @classmethod
    def of(cls, misbehaviour: Misbehaviour) -> ReportedAs:
        return cls(
            misbehaviour.reference, misbehaviour.merchant_code, misbehaviour.amount_hundredths
        )


#: Callbacks and returns that say the truth.
TRUTH = ReportedAs()


@dataclass(frozen=True)
class CallbackVariant:
    """What one callback says: normally the payment's state, sometimes a stale or corrupt one."""

    status: ProviderStatus
    corrupt: bool
    reported: ReportedAs = TRUTH


class SandboxWire(Protocol):
    """The provider-specific part of a sandbox."""

    title: str

    def settled(self, payment: SandboxPayment, misbehaviour: Misbehaviour) -> None:
        """Record provider-specific misbehaviour on a payment the payer just settled."""

    def callback(self, payment: SandboxPayment, variant: CallbackVariant) -> OutboundCallback: ...

    def callback_closed(self, status: int, body: bytes) -> bool: ...

    def return_redirect(self, payment: SandboxPayment, variant: CallbackVariant) -> str: ...


class ProviderSandboxSettings(Protocol):
    """What the shared core reads of a provider sandbox's config."""

    @property
    def delivery(self) -> CallbackDelivery: ...
    @property
    def misbehaviour(self) -> Misbehaviour: ...


class SandboxCore:
    """The state and behaviour shared by both sandboxes (one per sandbox app)."""

    def __init__(
        self,
        wire: SandboxWire,
        *,
        delivery: CallbackDelivery,
        misbehaviour: Misbehaviour,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = vietnam_now,
    ) -> None:
        self.wire = wire
        self.delivery = delivery
        self.default_misbehaviour = misbehaviour
        self.misbehaviour = misbehaviour.model_copy()
        self.sleep = sleep
        self.clock = clock
        self.ledger = SandboxLedger()
        self.stats: Counter[str] = Counter()
        self.session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.ledger.reset()
        self.stats.clear()
        self.misbehaviour = self.default_misbehaviour.model_copy()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    # -- settling and callbacks ----------------------------------------------------------

    def settle(
        self, payment: SandboxPayment, outcome: SettleOutcome, amount: int | None = None
    ) -> str:
        """Record the payer's outcome, schedule the callbacks; the browser's redirect URL."""
        mis = self.misbehaviour
        paid = (amount if amount is not None else payment.amount) + mis.amount_delta
        self.ledger.settle(payment, ProviderStatus(outcome), paid, self.clock())
        self.wire.settled(payment, mis)
        self.stats[f"settled_{outcome}"] += 1
        variant = CallbackVariant(payment.status, mis.bad_checksum, ReportedAs.of(mis))
        self.spawn(self._dispatch(payment, mis.model_copy(), variant))
        return self.wire.return_redirect(payment, variant)

    async def _dispatch(
        self, payment: SandboxPayment, mis: Misbehaviour, variant: CallbackVariant
    ) -> None:
        if mis.never_send:
            self.stats["callbacks_withheld"] += 1
            return
        if mis.callback_delay:
            await self.sleep(mis.callback_delay)
        main = self.wire.callback(payment, variant)
        for _ in range(mis.duplicate_callbacks):
            await asyncio.gather(*(self.deliver(main) for _ in range(mis.simultaneous_callbacks)))
        if mis.out_of_order is not None:
            stale = CallbackVariant(
                ProviderStatus(mis.out_of_order), mis.bad_checksum, variant.reported
            )
            await self.deliver(self.wire.callback(payment, stale))

    async def deliver(self, callback: OutboundCallback) -> bool:
        """Send one callback until the gateway's answer closes it (or attempts run out)."""
        assert self.session is not None, "the sandbox app is not running"
        headers = {"Content-Type": callback.content_type} if callback.content_type else {}
        for attempt in range(1, self.delivery.max_attempts + 1):
            self.stats["callbacks_sent"] += 1
            try:
                async with self.session.request(
                    callback.method,
                    callback.url,
                    data=callback.body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.delivery.timeout),
                ) as resp:
                    closed = self.wire.callback_closed(resp.status, await resp.content.read(65536))
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.stats["callbacks_unreachable"] += 1
                _log.info("sandbox.callback.unreachable", error=type(exc).__name__)
            else:
                if closed:
                    self.stats["callbacks_closed"] += 1
                    return True
                self.stats["callbacks_refused"] += 1
            if attempt < self.delivery.max_attempts:
                await self.sleep(self.delivery.retry_interval)
        self.stats["callbacks_abandoned"] += 1
        return False


_SETTLE_OUTCOMES: dict[str, SettleOutcome] = {
    "paid": "paid",
    "failed": "failed",
    "cancelled": "cancelled",
}

SANDBOX_CORE = web.AppKey("payment_sandbox_core", SandboxCore)


def corrupt_digest(digest: str) -> str:
    """``digest`` with its last character changed: a checksum that no longer matches."""
    return digest[:-1] + ("0" if digest[-1] != "0" else "1")


def render_pay_page(title: str, payment: SandboxPayment, action: str) -> web.Response:
    """The payer's page: what is paid, a Pay and a Cancel button (plain forms)."""
    settled = payment.status is not ProviderStatus.PENDING
    esc = html.escape
    buttons = (
        f"<p id='settled'>Giao dịch đã kết thúc: {esc(payment.status.value)}</p>"
        if settled
        else (
            f"<form method='post' action='{esc(action)}'>"
            "<input type='hidden' name='outcome' value='paid'>"
            "<button id='pay' type='submit'>Thanh toán</button></form>"
            f"<form method='post' action='{esc(action)}'>"
            "<input type='hidden' name='outcome' value='cancelled'>"
            "<button id='cancel' type='submit'>Hủy giao dịch</button></form>"
        )
    )
    page = (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title></head><body>"
        f"<h1>{esc(title)}</h1>"
        f"<p>Mã tham chiếu: <span id='reference'>{esc(payment.reference)}</span></p>"
        f"<p>Số tiền: <span id='amount'>{payment.amount}</span> VND</p>"
        f"<p>{esc(payment.description)}</p>{buttons}</body></html>"
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8")


@web.middleware
async def admin_loopback_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse ``/_admin`` to anything but a loopback client."""
    if request.path.startswith("/_admin") and not from_loopback(request):
        raise web.HTTPForbidden(text="admin is loopback-only")
    return await handler(request)


async def pay_page(request: web.Request) -> web.Response:
    core = request.app[SANDBOX_CORE]
    payment = core.ledger.by_page_key(request.match_info["key"])
    if payment is None:
        raise web.HTTPNotFound(text="no such payment")
    return render_pay_page(core.wire.title, payment, f"/pay/{payment.page_key}")


async def pay_form(request: web.Request) -> web.Response:
    """The payer pressed Pay or Cancel: settle, then redirect to the return URL."""
    core = request.app[SANDBOX_CORE]
    payment = core.ledger.by_page_key(request.match_info["key"])
    if payment is None:
        raise web.HTTPNotFound(text="no such payment")
    if payment.status is not ProviderStatus.PENDING:
        raise web.HTTPConflict(text="payment already settled")
    form = await request.post()
    outcome = _SETTLE_OUTCOMES.get(str(form.get("outcome", "")))
    if outcome is None:
        raise web.HTTPBadRequest(text="outcome must be paid, cancelled or failed")
    raise web.HTTPFound(core.settle(payment, outcome))


async def admin_misbehaviour(request: web.Request) -> web.Response:
    core = request.app[SANDBOX_CORE]
    if request.method == "POST":
        changes = await json_object(request)
        try:
            core.misbehaviour = type(core.default_misbehaviour).model_validate(
                {**core.misbehaviour.model_dump(), **changes}
            )
        except ValidationError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response(core.misbehaviour.model_dump())


async def admin_reset(request: web.Request) -> web.Response:
    request.app[SANDBOX_CORE].reset()
    return web.json_response({"reset": True})


async def admin_stats(request: web.Request) -> web.Response:
    core = request.app[SANDBOX_CORE]
    return web.json_response({**core.stats, "callbacks_in_flight": core.in_flight})


async def admin_pay(request: web.Request) -> web.Response:
    """``{reference, outcome: paid|failed|cancelled, amount?}``: settle without the HTML page."""
    core = request.app[SANDBOX_CORE]
    body = await json_object(request)
    payment = core.ledger.find(str(body.get("reference", "")))
    if payment is None or not payment.page_key:
        raise web.HTTPNotFound(text="no such payment (VNPay: open the pay URL first)")
    if payment.status is not ProviderStatus.PENDING:
        raise web.HTTPConflict(text="payment already settled")
    outcome = _SETTLE_OUTCOMES.get(str(body.get("outcome", "paid")))
    amount = body.get("amount")
    if outcome is None:
        raise web.HTTPBadRequest(text="outcome must be paid, failed or cancelled")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
        raise web.HTTPBadRequest(text="amount must be whole dong")
    redirect = core.settle(payment, outcome, amount)
    return web.json_response(
        {"reference": payment.reference, "status": payment.status.value, "return_url": redirect}
    )


async def admin_seed(request: web.Request) -> web.Response:
    """``{day: YYYY-MM-DD, count, amount?, status?}``: synthetic settled rows for a day."""
    core = request.app[SANDBOX_CORE]
    body = await json_object(request)
    try:
        day = dt.date.fromisoformat(str(body["day"]))
        count = int(body["count"])
        amount = int(body.get("amount", 10000))
        status = ProviderStatus(body.get("status", "paid"))
    except (KeyError, ValueError, TypeError):
        raise web.HTTPBadRequest(text="need day, count (amount, status optional)") from None
    if count < 0 or amount <= 0:
        raise web.HTTPBadRequest(text="count must be >= 0 and amount > 0")
    core.ledger.seed(day, count, amount, status)
    return web.json_response({"day": day.isoformat(), "size": core.ledger.day_size(day)})


#: A provider sandbox's wire (``DvcqgSandboxWire``, ``VnpaySandboxWire``).
W = TypeVar("W", bound=SandboxWire)


def build_sandbox_app(
    wire: W,
    wire_key: web.AppKey[W],
    config: ProviderSandboxSettings,
    *,
    sleep: Sleep,
    clock: Clock,
) -> web.Application:
    """The app with the shared routes and ``wire`` at ``wire_key``; the provider module adds
    its own API routes. ``config`` is the sandbox's config (its delivery and misbehaviour)."""
    core = SandboxCore(
        wire, delivery=config.delivery, misbehaviour=config.misbehaviour, sleep=sleep, clock=clock
    )
    app = web.Application(middlewares=[admin_loopback_only])
    app[SANDBOX_CORE] = core
    app[wire_key] = wire

    async def session_ctx(app: web.Application) -> Any:
        core.session = make_session()
        yield
        await core.close()

    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/pay/{key}", pay_page)
    app.router.add_post("/pay/{key}", pay_form)
    app.router.add_route("*", "/_admin/misbehaviour", admin_misbehaviour)
    app.router.add_post("/_admin/reset", admin_reset)
    app.router.add_get("/_admin/stats", admin_stats)
    app.router.add_post("/_admin/pay", admin_pay)
    app.router.add_post("/_admin/seed", admin_seed)
    return app


async def slow_or_failing_status(core: SandboxCore) -> web.Response | None:
    """Apply the status-query misbehaviour: maybe wait, maybe answer an HTTP error."""
    core.stats["status_queries"] += 1
    if core.misbehaviour.status_delay:
        await core.sleep(core.misbehaviour.status_delay)
    if core.misbehaviour.status_failure is not None:
        return web.Response(status=core.misbehaviour.status_failure)
    return None


@asynccontextmanager
async def open_provider_sandbox(
    name: str,
    config_class: type[ProviderSandboxConfig],
    start: Callable[[ProviderSandboxConfig, str, int], Awaitable[tuple[web.AppRunner, str]]],
    protocol: BaseModel | None,
    site: SandboxSite,
) -> AsyncIterator[str]:
    """Provider ``name``'s sandbox at ``site``: its wire settings ``protocol`` (the gateway's
    adapter config: partner code, keys; None: the defaults), calling the gateway back at
    ``site.gateway_url``. Each provider package's ``open_sandbox``; yields the base URL."""
    fields: dict[str, object] = {
        "callback_url": f"{site.gateway_url}/callbacks/{name}",
        "return_url": f"{site.gateway_url}/pay/return/{name}",
    }
    if protocol is not None:
        fields["protocol"] = protocol
    sandbox = config_class.model_validate(fields)
    async with serving(await start(sandbox, site.host, site.port)) as base_url:
        yield base_url


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start ``app`` on ``host:port`` (0 = any free port); the runner and the base URL."""
    # Handlers are cancelled when the client goes away, so a slow status query that the
    # caller gave up on does not hold shutdown.
    return await serve_app(app, host, port, handler_cancellation=True)
