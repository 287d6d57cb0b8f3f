"""Loopback peers for payment tests: a sandbox per provider and a tiny callback receiver."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.aliases import VIETNAM_TZ
from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.base import (
    CallbackRejected,
    CallbackResult,
    FeeLine,
    PaymentOrder,
    PaymentProvider,
    ProviderAnswer,
)
from adapters.payment.config import ProviderStatus
from adapters.payment.dvcqg import sandbox as dvcqg_sandbox
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.sandbox_kit import CallbackDelivery, serve
from adapters.payment.vnpay import sandbox as vnpay_sandbox
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig

#: A generous "did not hang" bound for waits in these tests (seconds).
HANG_BOUND = 10.0


@dataclass
class Received:
    """One callback as the receiver saw it."""

    result: CallbackResult | None
    rejected: CallbackRejected | None
    outcome: str
    answer: ProviderAnswer | None = None

    def answer_json(self) -> Any:
        """The answer's JSON body, as the sandbox received it."""
        assert self.answer is not None
        return json.loads(self.answer.body)


@dataclass
class CallbackReceiver:
    """The gateway's callback endpoint, reduced to parse → decide → answer."""

    provider: PaymentProvider | None = None
    billed: dict[str, int] = field(default_factory=dict)
    events: list[Received] = field(default_factory=list)
    confirmed: set[str] = field(default_factory=set)
    hold: float = 0.0
    active: int = 0
    max_active: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        assert self.provider is not None
        body = await request.read()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
            try:
                result = self.provider.parse_callback(request.method, request.query, body)
            except CallbackRejected as exc:
                answer = self.provider.answer_callback(exc, outcome="rejected")
                self.events.append(Received(None, exc, "rejected", answer))
            else:
                outcome = self._decide(result)
                answer = self.provider.answer_callback(result, outcome=outcome)  # type: ignore[arg-type]
                self.events.append(Received(result, None, outcome, answer))
        finally:
            self.active -= 1
            self.changed.set()
        return web.Response(
            status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type}
        )

    def _decide(self, result: CallbackResult) -> str:
        """VNPay's reference order: order (and merchant) → amount → order state."""
        if not result.for_this_merchant or result.reference not in self.billed:
            return "not_found"
        if not result.whole_dong or result.amount != self.billed[result.reference]:
            return "amount_mismatch"
        if result.reference in self.confirmed:
            return "already_confirmed"
        if result.status is ProviderStatus.PAID:
            self.confirmed.add(result.reference)
        return "confirmed"

    async def wait_for(self, count: int) -> list[Received]:
        """Wait until ``count`` callbacks arrived (within a generous "did not hang" bound)."""
        async with asyncio.timeout(HANG_BOUND):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.events


class HeldSleep:
    """The sandbox's sleep: short sleeps pass, long ones (a 'late' callback) wait for release."""

    def __init__(self) -> None:
        self.held: list[float] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        if seconds < 1.0:
            await asyncio.sleep(0)
            return
        self.held.append(seconds)
        self.entered.set()
        await self.release.wait()


def make_order(amount: int = 150_000, **changes: Any) -> PaymentOrder:
    created = dt.datetime(2025, 3, 1, 10, 15, 0, tzinfo=VIETNAM_TZ)
    values: dict[str, Any] = {
        "reference": "T" + uuid.uuid4().hex[:15].upper(),
        "amount": amount,
        "description": "Nộp phí hồ sơ đăng ký kinh doanh",
        "dossier_code": "000.00.01.H13-250301-0001",
        "procedure_code": "1.001612",
        "agency_code": "000.00.01.H13",
        "agency_name": "Sở Kế hoạch và Đầu tư",
        "payer_name": "Nguyễn Văn An",
        "payer_id_number": "092099012345",
        "return_url": "http://127.0.0.1:9/done",
        "client_ip": "127.0.0.1",
        "created_at": created,
        "expires_at": created + dt.timedelta(minutes=15),
        "fee_lines": (
            FeeLine("fee", "P01", "Phí thẩm định", amount - 50_000),
            FeeLine("charge", "L01", "Lệ phí đăng ký", 50_000),
        ),
    }
    values.update(changes)
    return PaymentOrder(**values)


@dataclass
class PaymentPeer:
    """A provider client, its sandbox and the receiver the sandbox calls back."""

    name: str
    provider: Any
    sandbox_url: str
    http: aiohttp.ClientSession
    receiver: CallbackReceiver
    sleep: HeldSleep
    slow_provider: Any
    receiver_url: str = ""

    def receiver_base(self) -> str:
        return self.receiver_url

    async def open(self, order: PaymentOrder) -> str:
        """Create the payment and open its pay URL (VNPay learns of an order that way)."""
        created = await self.provider.create(order)
        self.receiver.billed[order.reference] = order.amount
        async with self.http.get(created.pay_url) as resp:
            assert resp.status == 200
        return str(created.pay_url)

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.post(f"{self.sandbox_url}/_admin/{path}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def stats(self) -> dict[str, int]:
        async with self.http.get(f"{self.sandbox_url}/_admin/stats") as resp:
            data: dict[str, int] = await resp.json()
            return data

    async def idle(self) -> dict[str, int]:
        """Wait until the sandbox has no callback in flight; its stats."""
        for _ in range(int(HANG_BOUND / 0.01)):
            stats = await self.stats()
            if not stats["callbacks_in_flight"]:
                return stats
            await asyncio.sleep(0.01)
        raise AssertionError("sandbox callbacks still in flight")


TEST_DELIVERY = CallbackDelivery(max_attempts=3, retry_interval=0.01, timeout=2.0)


async def _start_peer(name: str) -> tuple[PaymentPeer, list[Callable[[], Awaitable[None]]]]:
    receiver = CallbackReceiver()
    recv_app = web.Application()
    recv_app.router.add_route("*", f"/callbacks/{name}", receiver.handle)
    recv_runner, recv_url = await serve(recv_app, "127.0.0.1", 0)
    sleep = HeldSleep()
    provider: Any
    slow: Any
    session = make_session()
    common = {
        "callback_url": f"{recv_url}/callbacks/{name}",
        "return_url": f"{recv_url}/pay/return/{name}",
        "delivery": TEST_DELIVERY,
        "page_size": 10_000,
    }
    if name == "dvcqg":
        app = dvcqg_sandbox.create_sandbox_app(
            dvcqg_sandbox.DvcqgSandboxConfig(**common), sleep=sleep
        )
        runner, url = await serve(app, "127.0.0.1", 0)
        provider = DvcqgProvider(DvcqgConfig(base_url=url), session, Unguarded())
        slow = DvcqgProvider(
            DvcqgConfig(base_url=url, attempt_timeout_seconds=0.2), session, Unguarded()
        )
    else:
        app = vnpay_sandbox.create_sandbox_app(
            vnpay_sandbox.VnpaySandboxConfig(**common), sleep=sleep
        )
        runner, url = await serve(app, "127.0.0.1", 0)
        cfg = VnpayConfig(
            pay_url=f"{url}/paymentv2/vpcpay.html",
            api_url=f"{url}/merchant_webapi/api/transaction",
            return_url=f"{recv_url}/pay/return/vnpay",
        )
        provider = VnpayProvider(cfg, session, Unguarded())
        slow = VnpayProvider(
            cfg.model_copy(update={"attempt_timeout_seconds": 0.2}), session, Unguarded()
        )
    receiver.provider = provider

    async def stop() -> None:
        sleep.release.set()
        await session.close()
        await runner.cleanup()
        await recv_runner.cleanup()

    peer = PaymentPeer(name, provider, url, session, receiver, sleep, slow, recv_url)
    return peer, [stop]


async def _peer(name: str) -> AsyncIterator[PaymentPeer]:
    started, stops = await _start_peer(name)
    try:
        yield started
    finally:
        for stop in stops:
            await stop()


@pytest.fixture(params=["dvcqg", "vnpay"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[PaymentPeer]:
    """Each provider in turn, with its sandbox and a receiver on loopback."""
    async for started in _peer(request.param):
        yield started


@pytest.fixture
async def vnpay_peer() -> AsyncIterator[PaymentPeer]:
    """VNPay alone, with its sandbox and a receiver on loopback."""
    async for started in _peer("vnpay"):
        yield started


@pytest.fixture
async def dvcqg_peer() -> AsyncIterator[PaymentPeer]:
    """The national payment platform alone, with its sandbox and a receiver on loopback."""
    async for started in _peer("dvcqg"):
        yield started
