"""Payer personal data through the real gateway: erased by the poller once final, counted."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.payments.personal_data import PayerIdDigest
from gateway.store import Store
from tests.payments.conftest import PAYER, PaymentHarness, eventually, wait_status

ERASED_METRIC = "lienthong_payments_personal_data_erased_total"


@pytest.fixture
def payments_overrides() -> dict[str, Any]:
    """No retention at all: a payment's personal data goes as soon as it is final."""
    return {"personal_data_retention_days": 0}


async def _payer_columns(store: Store, payment_id: str) -> dict[str, Any]:
    row = await store.fetch_one(
        "SELECT payer_name, payer_id_number, payer_id_digest, payer_id_masked FROM payments"
        " WHERE id = $1",
        payment_id,
    )
    assert row is not None
    return dict(row)


@pytest.mark.parametrize("provider", ["dvcqg", "vnpay"])
async def test_poller_erases_a_paid_payment_and_keeps_an_open_one(
    harness: PaymentHarness, provider: str
) -> None:
    """Paid → the poller NULLs name and id, keeps digest and mask, counts it; API unchanged."""
    store = await harness.open_store()
    erased_before = await harness.metric(ERASED_METRIC)
    paid = await harness.created(provider)
    still_open = await harness.created(provider)
    created_keys = set(paid)
    await harness.pay(paid)
    await wait_status(harness, paid["payment_id"], "paid")

    async def erased() -> bool:
        return (await _payer_columns(store, paid["payment_id"]))["payer_name"] is None

    await eventually(erased, what="the paid payment's personal data to be erased")
    await eventually(
        lambda: _metric_above(harness, erased_before), what="the erasure to be counted"
    )
    gone = await _payer_columns(store, paid["payment_id"])
    kept = await _payer_columns(store, still_open["payment_id"])
    digest = PayerIdDigest.from_audit_config(harness.settings.audit)(PAYER["id_number"])
    assert gone == {
        "payer_name": None,
        "payer_id_number": None,
        "payer_id_digest": digest,
        "payer_id_masked": "092*******21",
    }
    assert kept["payer_name"] == PAYER["full_name"]
    assert kept["payer_id_number"] == PAYER["id_number"]
    assert kept["payer_id_digest"] == digest
    assert await harness.metric(ERASED_METRIC) == erased_before + 1
    shown = await harness.read(paid["payment_id"])
    assert set(shown) == created_keys
    assert shown["status"] == "paid"


async def _metric_above(harness: PaymentHarness, value: float) -> bool:
    return await harness.metric(ERASED_METRIC) > value
