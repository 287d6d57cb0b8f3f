"""The state machine: every allowed move happens once, every forbidden one never."""

from __future__ import annotations

import json

import pytest

from gateway.payments.ledger import PaymentLedger, PaymentNotFound
from gateway.payments.model import (
    ALLOWED_TRANSITIONS,
    EVENT_TYPES,
    FINAL,
    Payment,
    PaymentStatus,
    may_move,
)
from gateway.store import Store
from tests.store.conftest import PAYER_ID, PAYER_NAME, events_of, new_payment

S = PaymentStatus


async def _payment_in(ledger: PaymentLedger, state: PaymentStatus) -> Payment:
    payment = await new_payment(ledger)
    if state is S.CREATED:
        return payment
    result = await ledger.transition(payment.id, state, reason="setup")
    assert result.applied
    return result.payment


def test_final_states_only_lead_to_review() -> None:
    """paid, failed, cancelled and expired allow one transition: to needs_review (for people)."""
    for state in FINAL:
        assert ALLOWED_TRANSITIONS[state] == {S.NEEDS_REVIEW}


def test_no_state_leads_back() -> None:
    """Nothing returns to created; only created reaches pending; needs_review ends paid/failed."""
    assert all(S.CREATED not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert [s for s in S if may_move(s, S.PENDING)] == [S.CREATED]
    assert ALLOWED_TRANSITIONS[S.NEEDS_REVIEW] == {S.PAID, S.FAILED}


@pytest.mark.parametrize("source", list(PaymentStatus))
async def test_every_transition_from(
    source: PaymentStatus, ledger: PaymentLedger, store: Store
) -> None:
    """From each state, allowed moves apply with an event and a version bump; others do nothing."""
    for target in PaymentStatus:
        payment = await _payment_in(ledger, source)
        before = await events_of(store, payment.id)
        result = await ledger.transition(payment.id, target, reason="test")
        after = await events_of(store, payment.id)
        if may_move(source, target):
            assert result.applied, (source, target)
            assert result.payment.status is target
            assert result.payment.version == payment.version + 1
            assert len(after) == len(before) + 1
            assert after[-1]["type"] == EVENT_TYPES[target]
            assert after[-1]["id"] == result.event_id
            assert after[-1]["payment_version"] == result.payment.version
        else:
            assert not result.applied, (source, target)
            assert result.event_id is None
            assert result.payment == payment
            assert after == before


async def test_expected_from_narrows_the_sources(ledger: PaymentLedger) -> None:
    """expected_from refuses a move the table would allow when the state is not expected."""
    payment = await _payment_in(ledger, S.PENDING)
    result = await ledger.transition(payment.id, S.PAID, expected_from={S.CREATED}, reason="t")
    assert not result.applied
    assert result.payment.status is S.PENDING


async def test_expected_from_cannot_widen_the_table(ledger: PaymentLedger) -> None:
    """expected_from naming a final state still cannot move a payment out of it."""
    payment = await _payment_in(ledger, S.PAID)
    result = await ledger.transition(payment.id, S.FAILED, expected_from={S.PAID}, reason="t")
    assert not result.applied
    assert result.payment.status is S.PAID


async def test_transition_records_provider_facts(ledger: PaymentLedger) -> None:
    """provider_txn_id, paid_amount, pay_url and the reason are stored with the move."""
    payment = await new_payment(ledger)
    pending = await ledger.transition(
        payment.id, S.PENDING, pay_url="http://127.0.0.1:9/pay", reason="bill_sent"
    )
    paid = await ledger.transition(
        payment.id, S.PAID, provider_txn_id="TXN-1", paid_amount=150_000, reason="callback"
    )
    stored = await ledger.get(payment.id)
    assert stored == paid.payment
    assert (stored.pay_url, stored.provider_txn_id, stored.paid_amount, stored.status_reason) == (
        "http://127.0.0.1:9/pay",
        "TXN-1",
        150_000,
        "callback",
    )
    assert pending.payment.version == 2
    assert stored.version == 3


async def test_unknown_payment_is_not_found(ledger: PaymentLedger) -> None:
    """A transition of an id that does not exist raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        await ledger.transition("pay_doesnotexist", S.PAID, reason="t")


async def test_event_body_describes_the_payment_without_the_payer(
    ledger: PaymentLedger, store: Store
) -> None:
    """The event body carries id, type and payment data, never the payer's name or id number."""
    payment = await new_payment(ledger)
    result = await ledger.transition(payment.id, S.PAID, paid_amount=150_000, reason="t")
    (row,) = await events_of(store, payment.id)
    body = json.loads(row["body"])
    assert body["id"] == result.event_id
    assert body["type"] == "payment.paid"
    assert body["data"]["payment_id"] == payment.id
    assert body["data"]["reference"] == payment.reference
    assert (body["data"]["status"], body["data"]["amount"], body["data"]["paid_amount"]) == (
        "paid",
        150_000,
        150_000,
    )
    assert body["data"]["dossier_code"] == payment.dossier_code
    assert PAYER_ID not in row["body"]
    assert PAYER_NAME not in row["body"]
