"""When the provider cannot take the order: the honest outcome, and a retry that completes it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.errors import UpstreamConnectionError, UpstreamFault
from adapters.guard import Unguarded
from adapters.payment.base import PaymentProviders
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.dvcqg.sandbox import DvcqgSandboxConfig, start_sandbox
from gateway.auth.clients import ClientConfig
from gateway.payments import PaymentLedger, PaymentStatus
from gateway.payments.requests import parse_payment_request
from gateway.payments.service import PaymentService
from gateway.store import Store, StoreConfig, open_store
from tests.payments.conftest import RETURN_PREFIX, payment_body
from tests.payments.processes import free_port

CLIENT = ClientConfig(id="motcua-demo", return_url_prefixes=[RETURN_PREFIX])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/gw.db"))
    yield opened
    await opened.close()


def service(store: Store, session: aiohttp.ClientSession, config: DvcqgConfig) -> PaymentService:
    provider = DvcqgProvider(config, session, Unguarded())
    return PaymentService(
        PaymentLedger(store),
        PaymentProviders({"dvcqg": provider}, "dvcqg"),
        expiry=dt.timedelta(minutes=15),
    )


async def test_unreachable_provider_leaves_created_and_the_same_key_completes(
    store: Store,
) -> None:
    """Provider down: the payment stays created; the same key later registers it (pending)."""
    body = parse_payment_request(
        payment_body(provider="dvcqg"), return_url_prefixes=[RETURN_PREFIX], providers=["dvcqg"]
    )
    runner, base = await start_sandbox(DvcqgSandboxConfig())
    async with aiohttp.ClientSession() as session:
        down = service(store, session, DvcqgConfig(base_url=f"http://127.0.0.1:{free_port()}"))
        with pytest.raises(UpstreamConnectionError):
            await down.create(CLIENT, "key-1", body, client_ip="127.0.0.1")
        stuck = await store.fetch_one("SELECT id, status, pay_url FROM payments")
        up = service(store, session, DvcqgConfig(base_url=base))
        result = await up.create(CLIENT, "key-1", body, client_ip="127.0.0.1")
    await runner.cleanup()
    assert stuck is not None
    assert (stuck["status"], stuck["pay_url"]) == ("created", None)
    assert result.replayed is True
    assert result.payment.id == stuck["id"]
    assert result.payment.status is PaymentStatus.PENDING
    assert result.payment.pay_url is not None


async def test_refused_order_fails_the_payment(store: Store) -> None:
    """The provider refuses the order (another partner code): the payment is failed."""
    body = parse_payment_request(
        payment_body(provider="dvcqg"), return_url_prefixes=[RETURN_PREFIX], providers=["dvcqg"]
    )
    runner, base = await start_sandbox(DvcqgSandboxConfig())
    async with aiohttp.ClientSession() as session:
        refused = service(store, session, DvcqgConfig(base_url=base, partner_code="SOMEONE"))
        with pytest.raises(UpstreamFault):
            await refused.create(CLIENT, "key-2", body, client_ip="127.0.0.1")
    await runner.cleanup()
    row = await store.fetch_one("SELECT status, status_reason FROM payments")
    assert row is not None
    assert (row["status"], row["status_reason"]) == ("failed", "provider_refused")
