"""Money that must never go silent: a paid result after a final state goes to people.

Through the sandboxes over loopback: the payer pays at the provider after the
client cancelled (the callback, then ``?refresh=true`` with the callback lost).
"""

from __future__ import annotations

import json

import pytest

from tests.payments.conftest import PaymentHarness, eventually, wait_status

PROVIDERS = ["dvcqg", "vnpay"]
LATE = 'lienthong_security_events_total{kind="late_payment"}'


async def _cancel(harness: PaymentHarness, payment_id: str) -> None:
    status, body, _ = await harness.gateway.call("POST", f"/v1/payments/{payment_id}/cancel")
    assert status == 200, body
    assert body["status"] == "cancelled"


async def _closed(harness: PaymentHarness, provider: str) -> bool:
    return int((await harness.stats(provider)).get("callbacks_closed", 0)) >= 1


async def _types(harness: PaymentHarness, payment_id: str, count: int) -> bool:
    return len(harness.receiver.types_for(payment_id)) >= count


async def _late_rows(harness: PaymentHarness, payment_id: str) -> list[dict[str, object]]:
    store = await harness.open_store()
    rows = await store.fetch_all(
        "SELECT detail FROM security_event_log WHERE kind = 'late_payment'"
    )
    details = [json.loads(r["detail"]) for r in rows]
    return [d for d in details if d.get("payment_id") == payment_id]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_paid_after_cancel_goes_to_review(harness: PaymentHarness, provider: str) -> None:
    """Cancelled, then paid at the provider: needs_review paid_after_cancelled, 'confirmed'."""
    before = await harness.metric(LATE)
    payment = await harness.created(provider)
    await _cancel(harness, payment["payment_id"])
    await harness.pay(payment)
    review = await wait_status(harness, payment["payment_id"], "needs_review")
    await eventually(lambda: _closed(harness, provider), what="the callback confirmed")
    await eventually(
        lambda: _types(harness, payment["payment_id"], 3), what="the needs_review webhook"
    )
    stats = await harness.stats(provider)
    assert review["review_reason"] == "paid_after_cancelled"
    assert stats.get("callbacks_refused", 0) == 0  # confirmed the first time: no redelivery
    assert harness.receiver.types_for(payment["payment_id"]) == [
        "payment.pending",
        "payment.cancelled",
        "payment.needs_review",
    ]
    [delivery] = [
        d
        for d in harness.receiver.for_payment(payment["payment_id"])
        if d.type == "payment.needs_review"
    ]
    data = json.loads(delivery.body)["data"]
    assert (data["reason"], data["review_reason"]) == ("paid_after_cancelled",) * 2
    assert data["paid_amount"] == payment["amount"]
    assert data["provider_txn_id"]
    assert await harness.metric(LATE) == before + 1
    assert len(await _late_rows(harness, payment["payment_id"])) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_refresh_finds_a_cancelled_payment_paid(
    harness: PaymentHarness, provider: str
) -> None:
    """The callback is lost; GET ?refresh=true on the cancelled payment finds the money."""
    await harness.misbehave(provider, never_send=True)
    payment = await harness.created(provider)
    await _cancel(harness, payment["payment_id"])
    await harness.pay(payment)
    plain = await harness.read(payment["payment_id"])
    refreshed = await harness.read(payment["payment_id"], refresh=True)
    again = await harness.read(payment["payment_id"], refresh=True)
    assert (plain["status"], plain["review_reason"]) == ("cancelled", None)
    assert (refreshed["status"], refreshed["review_reason"]) == (
        "needs_review",
        "paid_after_cancelled",
    )
    assert again == refreshed
    assert len(await _late_rows(harness, payment["payment_id"])) == 1
