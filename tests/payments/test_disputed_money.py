"""Money flagged, reversed or refunded by VNPay goes to people, through the real sandbox.

The adapter reads VNPay's published codes (``vnp_ResponseCode`` 07: debited but
flagged as suspicious; ``vnp_TransactionStatus`` 04 reversed, 05/06/09 refunds)
and the gateway moves the payment to ``needs_review`` with the reason, sends the
``payment.needs_review`` webhook, stores one security event in the transition's
own transaction, and answers the IPN so VNPay stops redelivering. Driven over
loopback by the VNPay sandbox's misbehaviour knobs: an IPN with the code, or a
``querydr`` answer when the IPN is lost.
"""

from __future__ import annotations

import json

import pytest

from tests.payments.conftest import PaymentHarness, eventually, wait_status


async def _stored_events(harness: PaymentHarness, kind: str, payment_id: str) -> int:
    store = await harness.open_store()
    rows = await store.fetch_all("SELECT detail FROM security_event_log WHERE kind = $1", kind)
    return sum(1 for r in rows if json.loads(r["detail"]).get("payment_id") == payment_id)


async def _closed(harness: PaymentHarness) -> bool:
    return int((await harness.stats("vnpay")).get("callbacks_closed", 0)) >= 1


async def test_ipn_flagged_as_suspicious_goes_to_review(harness: PaymentHarness) -> None:
    """IPN with response code 07: needs_review flagged_by_provider, one event, IPN closed."""
    await harness.misbehave("vnpay", response_code="07")
    payment = await harness.created("vnpay")
    await harness.pay(payment)
    review = await wait_status(harness, payment["payment_id"], "needs_review")
    await eventually(lambda: _closed(harness), what="VNPay's IPN answered 00 or 02")

    assert review["review_reason"] == "flagged_by_provider"
    assert (await harness.stats("vnpay")).get("callbacks_refused", 0) == 0

    async def webhook_sent() -> bool:
        return "payment.needs_review" in harness.receiver.types_for(payment["payment_id"])

    await eventually(webhook_sent, what="the needs_review webhook")
    [delivery] = [
        d
        for d in harness.receiver.for_payment(payment["payment_id"])
        if d.type == "payment.needs_review"
    ]
    assert json.loads(delivery.body)["data"]["review_reason"] == "flagged_by_provider"
    assert await _stored_events(harness, "flagged_by_provider", payment["payment_id"]) == 1


@pytest.mark.parametrize(
    ("transaction_status", "reason"),
    [
        ("04", "reversed_by_provider"),
        ("05", "refunded_by_provider"),
        ("06", "refunded_by_provider"),
        ("09", "refunded_by_provider"),
        ("07", "flagged_by_provider"),
    ],
)
async def test_querydr_dispute_on_an_open_payment_goes_to_review(
    harness: PaymentHarness, transaction_status: str, reason: str
) -> None:
    """The IPN is lost; ?refresh=true reads querydr's status and moves the payment to review."""
    await harness.misbehave("vnpay", never_send=True, transaction_status=transaction_status)
    payment = await harness.created("vnpay")
    await harness.pay(payment)
    refreshed = await harness.read(payment["payment_id"], refresh=True)
    again = await harness.read(payment["payment_id"], refresh=True)

    assert (refreshed["status"], refreshed["review_reason"]) == ("needs_review", reason)
    assert again == refreshed  # a second report changes nothing and stores nothing more
    assert await _stored_events(harness, reason, payment["payment_id"]) == 1
