"""Idempotent payment creation: one key, one payment, whatever happens."""

from __future__ import annotations

import asyncio

import pytest

from gateway.payments.ledger import IdempotencyConflict, PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.store import StoreConfig, open_store
from tests.store.conftest import OpenStore, bill
from tests.support.clock import FakeClock


async def test_same_key_and_body_return_the_stored_payment(ledger: PaymentLedger) -> None:
    """A repeated create with the same key and fingerprint returns the first payment, replayed."""
    first, replayed_first = await ledger.create("one-stop", "k1", "fp-a", bill())
    again, replayed_again = await ledger.create("one-stop", "k1", "fp-a", bill())
    assert (replayed_first, replayed_again) == (False, True)
    assert again == first
    assert first.status is PaymentStatus.CREATED


async def test_replay_returns_the_payment_as_it_is_now(ledger: PaymentLedger) -> None:
    """The replayed answer reflects later state changes (e.g. pending with its pay URL)."""
    first, _ = await ledger.create("one-stop", "k1", "fp-a", bill())
    await ledger.transition(
        first.id, PaymentStatus.PENDING, pay_url="http://127.0.0.1:9/pay", reason="sent"
    )
    again, replayed = await ledger.create("one-stop", "k1", "fp-a", bill())
    assert replayed
    assert (again.status, again.pay_url) == (PaymentStatus.PENDING, "http://127.0.0.1:9/pay")


async def test_same_key_other_body_is_a_conflict(ledger: PaymentLedger) -> None:
    """The same key with another fingerprint raises IdempotencyConflict and creates nothing."""
    await ledger.create("one-stop", "k1", "fp-a", bill())
    with pytest.raises(IdempotencyConflict):
        await ledger.create("one-stop", "k1", "fp-b", bill(amount=1))
    rows = await ledger._store.fetch_all("SELECT id FROM payments")
    assert len(rows) == 1


async def test_keys_are_scoped_per_client(ledger: PaymentLedger) -> None:
    """Two clients may use the same key string for different payments."""
    a, _ = await ledger.create("one-stop", "k1", "fp-a", bill("one-stop"))
    b, replayed = await ledger.create("portal", "k1", "fp-a", bill("portal"))
    assert not replayed
    assert a.id != b.id


async def test_concurrent_creates_with_one_key_make_one_payment(
    open_stores: OpenStore, clock: FakeClock
) -> None:
    """20 concurrent creates with one key from two instances make exactly one payment."""
    ledgers = [PaymentLedger(await open_stores(), clock) for _ in range(2)]
    results = await asyncio.gather(
        *(ledgers[i % 2].create("one-stop", "k-race", "fp", bill()) for i in range(20))
    )
    assert len({p.id for p, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 19
    rows = await ledgers[0]._store.fetch_all("SELECT id FROM payments")
    assert len(rows) == 1


async def test_idempotency_survives_reopening_the_store(
    store_config: StoreConfig, clock: FakeClock
) -> None:
    """After closing and reopening the store the same key still returns the same payment."""
    store = await open_store(store_config, clock=clock)
    try:
        first, _ = await PaymentLedger(store, clock).create("one-stop", "k1", "fp", bill())
    finally:
        await store.close()
    store = await open_store(store_config, clock=clock)
    try:
        again, replayed = await PaymentLedger(store, clock).create("one-stop", "k1", "fp", bill())
    finally:
        await store.close()
    assert replayed
    assert again.id == first.id


async def test_payment_round_trips_every_field(ledger: PaymentLedger) -> None:
    """What create stored is what get returns, fee lines and payer included."""
    created, _ = await ledger.create("one-stop", "k1", "fp", bill())
    assert await ledger.get(created.id) == created
    assert await ledger.get_by_reference(created.reference) == created
    assert created.id.startswith("pay_")
    assert len(created.id) == 24
    assert len(created.reference) <= 20
    assert created.reference.isalnum()
    assert created.reference == created.reference.upper()


async def test_payer_data_stays_out_of_repr(ledger: PaymentLedger) -> None:
    """repr(payment) (what a careless log line would show) has no payer name or id."""
    created, _ = await ledger.create("one-stop", "k1", "fp", bill())
    text = repr(created)
    assert created.payer_id_number is not None
    assert created.payer_id_number not in text
    assert created.payer_name is not None
    assert created.payer_name not in text
