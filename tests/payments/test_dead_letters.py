"""A dead-lettered webhook never holds back the later events of its payment."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.payments.outbox import Outbox
from tests.payments.conftest import FAST_PAYMENTS, PaymentHarness, eventually, wait_status

PROVIDERS = ["dvcqg", "vnpay"]


@pytest.fixture
def payments_overrides() -> dict[str, Any]:
    """Webhooks give up after half a second (so the receiver's outage kills the first event)."""
    return {"webhooks": {**FAST_PAYMENTS["webhooks"], "max_age_seconds": 0.5}}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_dead_event_does_not_block_the_next(harness: PaymentHarness, provider: str) -> None:
    """payment.pending dies while the receiver is down; payment.paid is delivered after it."""
    store = await harness.open_store()
    harness.receiver.down = True
    payment = await harness.created(provider)
    payment_id = payment["payment_id"]

    async def pending_is_dead() -> bool:
        rows = await store.fetch_all(
            "SELECT status FROM outbox_events WHERE payment_id = $1", payment_id
        )
        return [r["status"] for r in rows] == ["dead"]

    await eventually(pending_is_dead, what="the pending event dead-lettered")
    harness.receiver.down = False
    await harness.pay(payment)
    await wait_status(harness, payment_id, "paid")

    async def delivered(count: int) -> bool:
        return len(harness.receiver.types_for(payment_id)) >= count

    await eventually(lambda: delivered(1), what="payment.paid delivered")
    assert harness.receiver.types_for(payment_id) == ["payment.paid"]
    outbox = Outbox(store)
    [dead] = [e for e in await outbox.list_events(payment_id=payment_id) if e.status == "dead"]
    assert await outbox.retry(dead.id)  # the operator's retry sends it, late
    await eventually(lambda: delivered(2), what="the retried event delivered")
    assert harness.receiver.types_for(payment_id) == ["payment.paid", "payment.pending"]
