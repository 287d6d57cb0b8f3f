"""The payer's whole journey through each provider: create, pay, callback, return, webhooks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.payments.conftest import PAYER, PaymentHarness, eventually, wait_status

PROVIDERS = ["dvcqg", "vnpay"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_paid_end_to_end(harness: PaymentHarness, provider: str) -> None:
    """Create → pending with a pay URL; pay → paid; return → 303 to the client; two webhooks."""
    payment = await harness.created(provider)
    assert payment["status"] == "pending"
    assert payment["amount"] == 150000
    assert payment["provider"] == provider
    visit = await harness.pay(payment)
    paid = await wait_status(harness, payment["payment_id"], "paid")
    async with harness.session.get(visit.return_location, allow_redirects=False) as r:
        assert r.status == 303
        location = r.headers["Location"]
    await eventually(lambda: _has(harness, payment["payment_id"], 2), what="two webhooks")
    assert paid["status"] == "paid"
    assert location.startswith("http://127.0.0.1:8799/dossiers/0001/paid?")
    assert parse_qs(urlsplit(location).query) == {
        "payment_id": [payment["payment_id"]],
        "status": ["paid"],
    }
    assert harness.receiver.types_for(payment["payment_id"]) == ["payment.pending", "payment.paid"]
    assert harness.receiver.bad_signatures == 0


async def _has(harness: PaymentHarness, payment_id: str, count: int) -> bool:
    return len(harness.receiver.types_for(payment_id)) >= count


async def test_vnpay_pay_url_carries_the_standard_parameters(harness: PaymentHarness) -> None:
    """The VNPay pay URL has vnp_* parameters, amount ×100, our reference, our return URL."""
    payment = await harness.created("vnpay")
    params = {k: v[0] for k, v in parse_qs(urlsplit(payment["pay_url"]).query).items()}
    visit = await harness.pay(payment)
    assert params["vnp_Version"] == "2.1.0"
    assert params["vnp_Command"] == "pay"
    assert params["vnp_TmnCode"] == "LIENTHONG"
    assert params["vnp_Amount"] == "15000000"
    assert params["vnp_TxnRef"] == visit.reference
    assert params["vnp_ReturnUrl"] == harness.gateway.url + "/pay/return/vnpay"
    assert "vnp_SecureHash" in params


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_personal_data_in_urls_or_webhooks(harness: PaymentHarness, provider: str) -> None:
    """Neither the pay URL, the return redirect nor any webhook body carries the payer's id/name."""
    payment = await harness.created(provider)
    visit = await harness.pay(payment)
    await wait_status(harness, payment["payment_id"], "paid")
    await eventually(lambda: _has(harness, payment["payment_id"], 2), what="two webhooks")
    texts = [payment["pay_url"], visit.return_location] + [
        d.body for d in harness.receiver.accepted
    ]
    for text in texts:
        assert PAYER["id_number"] not in text
        assert PAYER["full_name"] not in text


async def test_metrics_show_payments_and_outbox(harness: PaymentHarness) -> None:
    """After a paid payment, /metrics has payments by state and the outbox gauges."""
    payment = await harness.created("dvcqg")
    await harness.pay(payment)
    await wait_status(harness, payment["payment_id"], "paid")

    async def counted() -> bool:
        return await harness.metric('lienthong_payments{status="paid"}') >= 1

    await eventually(counted, what="the paid gauge")
    async with harness.session.get(harness.gateway.url + "/metrics") as r:
        text = await r.text()
    assert 'lienthong_outbox_events{status="pending"}' in text
    assert "lienthong_outbox_oldest_pending_age_seconds" in text
