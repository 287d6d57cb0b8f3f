"""Provider results (callbacks, polls): duplicates, races, reordering and wrong amounts."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from gateway.payments import PaymentLedger, PaymentNotFound, PaymentStatus
from gateway.store import Store
from tests.store.conftest import FakeClock, OpenStore, events_of, new_payment

S = PaymentStatus


async def test_concurrent_identical_paid_results_apply_once(
    open_stores: OpenStore, clock: FakeClock
) -> None:
    """20 concurrent identical paid callbacks on two instances: one applies, one event."""
    stores = [await open_stores(), await open_stores()]
    ledgers = [PaymentLedger(s, clock) for s in stores]
    payment = await new_payment(ledgers[0])
    await ledgers[0].transition(payment.id, S.PENDING, reason="sent")
    results = await asyncio.gather(
        *(
            ledgers[i % 2].apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
            for i in range(20)
        )
    )
    assert sum(r.applied for r in results) == 1
    events = await events_of(stores[1], payment.id)
    assert [e["type"] for e in events] == ["payment.pending", "payment.paid"]
    final = await ledgers[1].get(payment.id)
    assert final is not None
    assert (final.status, final.version) == (S.PAID, 3)


async def test_failed_after_paid_changes_nothing(ledger: PaymentLedger, store: Store) -> None:
    """A failed result arriving after paid leaves the payment paid and writes no event."""
    payment = await new_payment(ledger)
    await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    late = await ledger.apply_provider_result(payment.reference, S.FAILED, None, "TXN-1")
    assert not late.applied
    assert late.payment.status is S.PAID
    assert [e["type"] for e in await events_of(store, payment.id)] == ["payment.paid"]


async def test_pending_after_paid_changes_nothing(ledger: PaymentLedger) -> None:
    """A pending result reordered after paid is a no-op."""
    payment = await new_payment(ledger)
    await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    late = await ledger.apply_provider_result(payment.reference, S.PENDING, None, None)
    assert not late.applied
    assert late.payment.status is S.PAID


async def test_duplicate_paid_is_a_quiet_no_op(ledger: PaymentLedger) -> None:
    """The same paid result twice: the second is not applied and logs no warning."""
    payment = await new_payment(ledger)
    first = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    with capture_logs() as logs:
        second = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    assert first.applied
    assert not second.applied
    assert second.payment == first.payment
    assert not [e for e in logs if e["log_level"] == "warning"]


async def test_wrong_amount_goes_to_review(ledger: PaymentLedger, store: Store) -> None:
    """Paid with an amount other than the bill → needs_review, its event, a security event."""
    payment = await new_payment(ledger)
    with capture_logs() as logs:
        result = await ledger.apply_provider_result(payment.reference, S.PAID, 100_000, "TXN-1")
    assert result.applied
    assert (result.payment.status, result.payment.paid_amount) == (S.NEEDS_REVIEW, 100_000)
    assert [e["type"] for e in await events_of(store, payment.id)] == ["payment.needs_review"]
    assert any(e["event"] == "security.amount_mismatch" for e in logs)


async def test_results_after_review_change_nothing(ledger: PaymentLedger) -> None:
    """Once in needs_review, a later correct paid result does not settle it: people do."""
    payment = await new_payment(ledger)
    await ledger.apply_provider_result(payment.reference, S.PAID, 100_000, "TXN-1")
    later = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    assert not later.applied
    assert later.payment.status is S.NEEDS_REVIEW


async def test_paid_after_expiry_is_ignored_with_a_warning(
    ledger: PaymentLedger, store: Store
) -> None:
    """A paid result for an expired payment changes nothing but is logged for people."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.EXPIRED, reason="expired")
    with capture_logs() as logs:
        late = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-9")
    assert not late.applied
    assert late.payment.status is S.EXPIRED
    assert any(e["event"] == "payment.paid_result_ignored" for e in logs)
    assert [e["type"] for e in await events_of(store, payment.id)] == ["payment.expired"]


async def test_pending_result_moves_only_a_created_payment(ledger: PaymentLedger) -> None:
    """A pending result moves created → pending, and is a no-op on an already pending payment."""
    payment = await new_payment(ledger)
    first = await ledger.apply_provider_result(payment.reference, S.PENDING, None, None)
    second = await ledger.apply_provider_result(payment.reference, S.PENDING, None, None)
    assert first.applied
    assert not second.applied
    assert second.payment.status is S.PENDING


async def test_unknown_reference_is_not_found(ledger: PaymentLedger) -> None:
    """A result for a reference we never issued raises PaymentNotFound."""
    with pytest.raises(PaymentNotFound):
        await ledger.apply_provider_result("LTNOSUCHREF", S.PAID, 1, "TXN")
