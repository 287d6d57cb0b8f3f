"""Payments nobody pays expire after a last query; one the provider saw paid does not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.payments.conftest import PaymentHarness, eventually, wait_status

PROVIDERS = ["dvcqg", "vnpay"]


@pytest.fixture
def payments_overrides() -> dict[str, Any]:
    """Payments expire after 1.2 s (and are not polled before expiry)."""
    return {
        "expiry_seconds": 1.2,
        "polling": {"pending_age_seconds": 3600, "interval_seconds": 0.1},
    }


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unpaid_payment_expires(harness: PaymentHarness, provider: str) -> None:
    """Never paid: after a last query the payment is expired, and payment.expired is sent."""
    payment = await harness.created(provider)
    expired = await wait_status(harness, payment["payment_id"], "expired")
    await eventually(lambda: _types(harness, payment["payment_id"], 2), what="the expired webhook")
    assert expired["status"] == "expired"
    assert harness.receiver.types_for(payment["payment_id"]) == [
        "payment.pending",
        "payment.expired",
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_last_query_finds_it_paid(harness: PaymentHarness, provider: str) -> None:
    """Paid at the provider but the callback lost: the last query before expiry makes it paid."""
    await harness.misbehave(provider, never_send=True)
    payment = await harness.created(provider)
    await harness.pay(payment)
    paid = await wait_status(harness, payment["payment_id"], "paid")
    assert paid["status"] == "paid"


async def test_expired_then_cancel_is_refused(harness: PaymentHarness) -> None:
    """An expired payment is final: cancelling it is 409."""
    payment = await harness.created("dvcqg")
    await wait_status(harness, payment["payment_id"], "expired")
    status, problem, _ = await harness.gateway.call(
        "POST", f"/v1/payments/{payment['payment_id']}/cancel"
    )
    assert status == 409
    assert problem["type"].endswith("/payment-not-cancellable")


async def _types(harness: PaymentHarness, payment_id: str, count: int) -> bool:
    return len(harness.receiver.types_for(payment_id)) >= count


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_paid_after_expiry_goes_to_review(harness: PaymentHarness, provider: str) -> None:
    """Expired, then paid at the provider: needs_review paid_after_expired, answered 'confirmed'."""
    payment = await harness.created(provider)
    await wait_status(harness, payment["payment_id"], "expired")
    await harness.pay(payment)
    review = await wait_status(harness, payment["payment_id"], "needs_review")
    await eventually(
        lambda: _types(harness, payment["payment_id"], 3), what="the needs_review webhook"
    )
    stats = await harness.stats(provider)
    assert review["review_reason"] == "paid_after_expired"
    assert stats.get("callbacks_refused", 0) == 0
    assert harness.receiver.types_for(payment["payment_id"])[-1] == "payment.needs_review"
