"""Provider results (callbacks, polls): duplicates, races, reordering and wrong amounts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.payments.ledger import PaymentLedger, PaymentNotFound
from gateway.payments.model import EVENT_TYPES, DisputedMoney, PaymentStatus
from gateway.security import events as security_events
from gateway.security.events import SECURITY_EVENTS
from gateway.security.recorder import SecurityRecorder
from gateway.store import Store
from tests.store.conftest import OpenStore, events_of, new_payment
from tests.support.clock import FakeClock

OPEN = {PaymentStatus.CREATED, PaymentStatus.PENDING}

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
    assert result.payment.review_reason == "amount_mismatch"
    assert [e["type"] for e in await events_of(store, payment.id)] == ["payment.needs_review"]
    assert any(e["event"] == "security.amount_mismatch" for e in logs)
    [(kind, detail)] = await _security_rows(store)
    assert (kind, detail["billed"], detail["paid"]) == ("amount_mismatch", 150_000, 100_000)


async def test_results_after_review_change_nothing(ledger: PaymentLedger) -> None:
    """Once in needs_review, a later correct paid result does not settle it: people do."""
    payment = await new_payment(ledger)
    await ledger.apply_provider_result(payment.reference, S.PAID, 100_000, "TXN-1")
    later = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    assert not later.applied
    assert later.payment.status is S.NEEDS_REVIEW


async def _security_rows(store: Store) -> list[tuple[str, dict[str, Any]]]:
    rows = await store.fetch_all("SELECT kind, detail FROM security_event_log ORDER BY time_us")
    return [(str(r["kind"]), json.loads(r["detail"])) for r in rows]


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        (S.FAILED, "paid_after_failed"),
        (S.CANCELLED, "paid_after_cancelled"),
        (S.EXPIRED, "paid_after_expired"),
    ],
)
async def test_paid_after_a_final_state_goes_to_review(
    ledger: PaymentLedger, store: Store, final: PaymentStatus, reason: str
) -> None:
    """A late paid on failed/cancelled/expired → needs_review with the reason, amount, txn id."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, final, reason="test")
    late = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-9")
    assert late.applied
    after = late.payment
    assert (after.status, after.status_reason, after.review_reason) == (
        S.NEEDS_REVIEW,
        reason,
        reason,
    )
    assert (after.paid_amount, after.provider_txn_id) == (150_000, "TXN-9")
    events = await events_of(store, payment.id)
    assert [e["type"] for e in events] == [EVENT_TYPES[final], "payment.needs_review"]
    data = json.loads(events[-1]["body"])["data"]
    assert (data["reason"], data["review_reason"], data["paid_amount"]) == (
        reason,
        reason,
        150_000,
    )
    [(kind, detail)] = await _security_rows(store)
    assert kind == "late_payment"
    assert (detail["payment_id"], detail["previous_status"], detail["paid"]) == (
        payment.id,
        str(final),
        150_000,
    )
    again = await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-9")
    assert not again.applied
    assert len(await events_of(store, payment.id)) == 2
    assert len(await _security_rows(store)) == 1


async def test_failed_after_paid_raises_result_after_paid(ledger: PaymentLedger) -> None:
    """failed (or cancelled) after paid changes nothing and raises result_after_paid."""
    payment = await new_payment(ledger)
    await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    seen: list[tuple[str, Mapping[str, Any]]] = []
    unsubscribe = security_events.subscribe(lambda kind, fields: seen.append((kind, fields)))
    try:
        failed = await ledger.apply_provider_result(payment.reference, S.FAILED, None, "TXN-1")
        cancelled = await ledger.apply_provider_result(payment.reference, S.CANCELLED, None, None)
    finally:
        unsubscribe()
    assert not failed.applied
    assert not cancelled.applied
    assert cancelled.payment.status is S.PAID
    assert [(k, f["payment_id"], f["reported"]) for k, f in seen] == [
        ("result_after_paid", payment.id, "failed"),
        ("result_after_paid", payment.id, "cancelled"),
    ]


@pytest.mark.parametrize(
    ("report", "reason", "kind"),
    [
        (DisputedMoney.FLAGGED, "flagged_by_provider", "flagged_by_provider"),
        (DisputedMoney.REVERSED, "reversed_by_provider", "reversed_by_provider"),
        (DisputedMoney.REFUNDED, "refunded_by_provider", "refunded_by_provider"),
    ],
)
@pytest.mark.parametrize("start", [S.PENDING, S.PAID])
async def test_disputed_money_on_an_open_or_paid_payment_goes_to_review(
    ledger: PaymentLedger,
    store: Store,
    start: PaymentStatus,
    report: DisputedMoney,
    reason: str,
    kind: str,
) -> None:
    """Flagged, reversed or refunded on a pending or paid payment → needs_review, once."""
    payment = await new_payment(ledger)
    if start is S.PAID:
        await ledger.apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1")
    else:
        await ledger.transition(payment.id, S.PENDING, reason="sent")
    result = await ledger.apply_provider_result(payment.reference, report, 150_000, "TXN-1")
    assert result.applied
    assert (result.payment.status, result.payment.review_reason) == (S.NEEDS_REVIEW, reason)
    assert [e["type"] for e in await events_of(store, payment.id)][-1] == "payment.needs_review"
    assert [k for k, _ in await _security_rows(store)] == [kind]
    again = await ledger.apply_provider_result(payment.reference, report, 150_000, "TXN-1")
    assert not again.applied
    assert len(await _security_rows(store)) == 1


async def test_reversed_or_refunded_on_an_unpaid_final_payment_changes_nothing(
    ledger: PaymentLedger, store: Store
) -> None:
    """The money went back from a payment not paid here: nothing to review; flagged is."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.FAILED, reason="test")
    for report in (DisputedMoney.REVERSED, DisputedMoney.REFUNDED):
        result = await ledger.apply_provider_result(payment.reference, report, 150_000, None)
        assert not result.applied
    flagged = await ledger.apply_provider_result(
        payment.reference, DisputedMoney.FLAGGED, 150_000, "TXN-2"
    )
    assert flagged.applied
    assert (flagged.payment.review_reason, flagged.payment.paid_amount) == (
        "flagged_by_provider",
        150_000,
    )


async def test_a_fraction_of_a_dong_is_an_amount_mismatch(
    ledger: PaymentLedger, store: Store
) -> None:
    """Paid with the billed amount rounded down from a fraction → needs_review amount_mismatch."""
    payment = await new_payment(ledger)
    result = await ledger.apply_provider_result(
        payment.reference, S.PAID, 150_000, "TXN-1", whole_dong=False
    )
    assert result.applied
    assert (result.payment.status, result.payment.review_reason) == (
        S.NEEDS_REVIEW,
        "amount_mismatch",
    )
    [(kind, detail)] = await _security_rows(store)
    assert (kind, detail["whole_dong"]) == ("amount_mismatch", False)


async def test_a_failing_security_insert_rolls_the_transition_back(
    ledger: PaymentLedger, store: Store
) -> None:
    """The security row is in the transition's transaction: without it, no move and no event."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    async with store.transaction() as tx:
        await tx.execute("ALTER TABLE security_event_log RENAME TO security_event_log_gone")
    with pytest.raises(Exception):  # noqa: B017, PT011 (the backend's own "no such table")
        await ledger.apply_provider_result(payment.reference, S.PAID, 1_000, "TXN-1")
    after = await ledger.get(payment.id)
    assert after is not None
    assert after.status is S.PENDING
    assert [e["type"] for e in await events_of(store, payment.id)] == ["payment.pending"]


async def test_the_recorder_does_not_store_a_transition_event_twice(
    ledger: PaymentLedger, store: Store
) -> None:
    """The recorder skips an event its transition stored; detectors and the counter see it."""
    recorder = SecurityRecorder(store, "test", interval_seconds=3600)
    seen: list[str] = []
    counter = SECURITY_EVENTS.labels("amount_mismatch")
    before = counter._value.get()
    await recorder.start()
    unsubscribe = security_events.subscribe(lambda kind, _fields: seen.append(kind))
    try:
        payment = await new_payment(ledger)
        await ledger.apply_provider_result(payment.reference, S.PAID, 1_000, "TXN-1")
        security_events.emit("bad_callback_checksum", provider="dvcqg")
    finally:
        unsubscribe()
        await recorder.stop()
    assert seen == ["amount_mismatch", "bad_callback_checksum"]
    assert counter._value.get() == before + 1
    assert sorted(k for k, _ in await _security_rows(store)) == [
        "amount_mismatch",
        "bad_callback_checksum",
    ]


async def test_a_late_paid_racing_a_cancel_is_never_lost(
    open_stores: OpenStore, clock: FakeClock
) -> None:
    """Paid and cancel at once on two instances: paid, or needs_review paid_after_cancelled."""
    stores = [await open_stores(), await open_stores()]
    ledgers = [PaymentLedger(s, clock) for s in stores]
    for _ in range(10):
        payment = await new_payment(ledgers[0])
        await ledgers[0].transition(payment.id, S.PENDING, reason="sent")
        await asyncio.gather(
            ledgers[0].transition(payment.id, S.CANCELLED, expected_from=OPEN, reason="client"),
            ledgers[1].apply_provider_result(payment.reference, S.PAID, 150_000, "TXN-1"),
        )
        final = await ledgers[1].get(payment.id)
        assert final is not None
        assert (final.status, final.status_reason) in {
            (S.PAID, "provider_result"),
            (S.NEEDS_REVIEW, "paid_after_cancelled"),
        }
        expected = 2 if final.status is S.PAID else 3  # (pending, paid) or (…, cancelled, review)
        assert len(await events_of(stores[0], payment.id)) == expected


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
