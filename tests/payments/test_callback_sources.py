"""The callback source allow-list: a provider's callbacks only from its configured networks."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.payments.conftest import PaymentHarness, eventually, payment_body

PROVIDERS = ["dvcqg", "vnpay"]
REFUSED = 'lienthong_security_events_total{kind="callback_address_refused"}'


def _sources(provider: str, networks: list[str]) -> dict[str, Any]:
    return {provider: {"callback_sources": networks}}


async def _stat(harness: PaymentHarness, provider: str, name: str) -> int:
    return int((await harness.stats(provider)).get(name, 0))


@pytest.mark.parametrize(
    ("provider", "payments_overrides"),
    [(p, _sources(p, ["10.0.0.0/8"])) for p in PROVIDERS],
)
async def test_callback_from_outside_the_list_is_refused(
    harness: PaymentHarness, provider: str
) -> None:
    """The sandbox calls from 127.0.0.1, outside 10.0.0.0/8: refused, never closed, an event."""
    before = await harness.metric(REFUSED)
    payment = await harness.created(provider)
    await harness.pay(payment)

    async def refused() -> bool:
        return await _stat(harness, provider, "callbacks_refused") >= 1

    await eventually(refused, what="the callback refused")
    assert await _stat(harness, provider, "callbacks_closed") == 0
    assert await harness.metric(REFUSED) > before


@pytest.mark.parametrize(
    ("provider", "payments_overrides"),
    [(p, _sources(p, ["127.0.0.0/8"])) for p in PROVIDERS],
)
async def test_callback_from_inside_the_list_is_applied(
    harness: PaymentHarness, provider: str
) -> None:
    """The same callback from inside 127.0.0.0/8: confirmed, the payment paid."""
    before = await harness.metric(REFUSED)
    payment = await harness.created(provider)
    await harness.pay(payment)

    async def closed() -> bool:
        return await _stat(harness, provider, "callbacks_closed") >= 1

    await eventually(closed, what="the callback confirmed")
    assert (await harness.read(payment["payment_id"]))["status"] == "paid"
    assert await _stat(harness, provider, "callbacks_refused") == 0
    assert await harness.metric(REFUSED) == before


@pytest.mark.parametrize(
    ("server_overrides", "payments_overrides"),
    [({"trusted_proxies": ["127.0.0.1/32"]}, _sources("vnpay", ["127.0.0.64/26"]))],
)
async def test_callback_through_a_trusted_proxy_is_judged_by_its_forwarded_address(
    harness: PaymentHarness,
) -> None:
    """Behind a trusted proxy the forwarded address decides, for callbacks and client_ip."""
    status, payment, _ = await harness.gateway.call(
        "POST",
        "/v1/payments",
        payment_body(provider="vnpay"),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "127.0.0.70"},
    )
    assert status == 201, payment
    pay_query = parse_qs(urlsplit(payment["pay_url"]).query)
    assert pay_query["vnp_IpAddr"] == ["127.0.0.70"]
    visit = await harness.pay(payment)
    signed = visit.return_location.split("?", 1)[1]  # the same signed fields as the IPN
    url = f"{harness.gateway.url}/callbacks/vnpay?{signed}"
    answers = []
    for forwarded in ("127.0.0.9", "127.0.0.70"):
        async with harness.session.get(url, headers={"X-Forwarded-For": forwarded}) as r:
            answers.append((await r.json())["RspCode"])
    # The sandbox's own IPN names no client: its proxy peer 127.0.0.1 is outside the list.
    assert await _stat(harness, "vnpay", "callbacks_closed") == 0
    assert answers[0] == "97"
    assert answers[1] in ("00", "02")  # 02 if the poller learnt of the payment first
    assert (await harness.read(payment["payment_id"]))["status"] == "paid"
