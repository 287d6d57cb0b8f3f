"""Reconciliation fixtures: a store (SQLite, and PostgreSQL when configured) and a provider
sandbox on loopback whose callbacks never reach us (they are the lost ones to recover)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from adapters.aliases import VIETNAM_TZ
from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.base import PaymentOrder, PaymentProvider
from adapters.payment.dvcqg import sandbox as dvcqg_sandbox
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.sandbox_kit import CallbackDelivery, Misbehaviour, serve
from adapters.payment.vnpay import sandbox as vnpay_sandbox
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentStatus
from gateway.store import Store, StoreConfig, open_store
from tests.store import conftest as store_fixtures
from tests.store.conftest import bill
from tests.support.clock import FakeClock

# The store suite's fixtures: the backend (SQLite; PostgreSQL when configured), a fresh
# database for it, and the injected clock (2026-03-01 09:00 in Vietnam).
backend = store_fixtures.backend
store_config = store_fixtures.store_config
clock = store_fixtures.clock

#: The reconciled day; the store's clock starts at 09:00 on it (Vietnam time).
DAY = dt.date(2026, 3, 1)
#: When the sandbox settles what the payer does: 10:00 on the day.
SETTLED_AT = dt.datetime(2026, 3, 1, 10, 0, tzinfo=VIETNAM_TZ)


@pytest.fixture
async def store(store_config: StoreConfig, clock: FakeClock) -> AsyncIterator[Store]:
    """One open store on a fresh database."""
    opened = await open_store(store_config, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ledger(store: Store, clock: FakeClock) -> PaymentLedger:
    """The ledger on the store."""
    return PaymentLedger(store, clock)


@dataclass
class ProviderPeer:
    """A provider client and its sandbox: register, settle and seed payments there."""

    name: str
    provider: PaymentProvider
    url: str
    http: aiohttp.ClientSession

    async def register(self, payment: Payment) -> None:
        """Tell the provider about a payment of ours (VNPay learns of it when its URL opens)."""
        order = PaymentOrder(
            reference=payment.reference,
            amount=payment.amount,
            description="Nộp lệ phí hồ sơ",
            dossier_code=payment.dossier_code,
            procedure_code=payment.procedure_code,
            agency_code=payment.agency_code,
            agency_name="Sở Tư pháp",
            payer_name="Người Nộp Thử",
            payer_id_number="000000000",
            return_url=payment.return_url,
            client_ip="127.0.0.1",
            created_at=payment.created_at,
            expires_at=payment.expires_at,
        )
        created = await self.provider.create(order)
        if self.name == "vnpay":
            async with self.http.get(created.pay_url) as resp:
                assert resp.status == 200

    async def settle(
        self, reference: str, outcome: str = "paid", amount: int | None = None
    ) -> None:
        """The payer pays (or fails) on the provider's side."""
        body: dict[str, Any] = {"reference": reference, "outcome": outcome}
        if amount is not None:
            body["amount"] = amount
        await self.admin("pay", body)

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.post(f"{self.url}/_admin/{path}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def stats(self) -> dict[str, int]:
        async with self.http.get(f"{self.url}/_admin/stats") as resp:
            data: dict[str, int] = await resp.json()
            return data


@pytest.fixture(params=["dvcqg", "vnpay"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[ProviderPeer]:
    """Each provider in turn: its real client against its sandbox on loopback."""
    name: str = request.param
    common: dict[str, Any] = {
        "callback_url": "http://127.0.0.1:9/callbacks/lost",
        "return_url": "http://127.0.0.1:9/pay/return",
        "delivery": CallbackDelivery(max_attempts=1, retry_interval=0.0, timeout=1.0),
        "misbehaviour": Misbehaviour(never_send=True),
        "page_size": 10_000,
    }
    session = make_session()
    provider: PaymentProvider
    if name == "dvcqg":
        app = dvcqg_sandbox.create_sandbox_app(
            dvcqg_sandbox.DvcqgSandboxConfig(**common), clock=lambda: SETTLED_AT
        )
        runner, url = await serve(app, "127.0.0.1", 0)
        provider = DvcqgProvider(DvcqgConfig(base_url=url), session, Unguarded())
    else:
        app = vnpay_sandbox.create_sandbox_app(
            vnpay_sandbox.VnpaySandboxConfig(**common), clock=lambda: SETTLED_AT
        )
        runner, url = await serve(app, "127.0.0.1", 0)
        config = VnpayConfig(
            pay_url=f"{url}/paymentv2/vpcpay.html",
            api_url=f"{url}/merchant_webapi/api/transaction",
        )
        provider = VnpayProvider(config, session, Unguarded())
    try:
        yield ProviderPeer(name, provider, url, session)
    finally:
        await session.close()
        await runner.cleanup()


async def new_payment(
    ledger: PaymentLedger, provider: str, amount: int = 150_000, *, pending: bool = True
) -> Payment:
    """A payment of ours for ``provider`` (moved to pending, as after its pay URL was given)."""
    payment, _ = await ledger.create(
        "one-stop", "key-" + secrets.token_hex(8), "fp", bill(amount=amount, provider=provider)
    )
    if pending:
        result = await ledger.transition(payment.id, PaymentStatus.PENDING, reason="created")
        payment = result.payment
    return payment
