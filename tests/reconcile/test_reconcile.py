"""Reconciliation against each provider's sandbox on loopback, on each store backend."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentStatus
from gateway.payments.reconcile import (
    CSV_COLUMNS,
    Action,
    DiscrepancyKind,
    ReconcileReport,
    reconcile,
    report_stem,
)
from gateway.store import Store
from tests.reconcile.conftest import DAY, ProviderPeer, new_payment
from tests.store.conftest import events_of
from tests.support.clock import FakeClock


@dataclass
class Scenario:
    """One payment per case, set up at the provider and here."""

    matched: Payment
    lost_callback: Payment
    wrong_amount: Payment
    missing_at_provider: Payment
    never_paid: Payment
    unknown_reference: str


async def build_scenario(ledger: PaymentLedger, peer: ProviderPeer) -> Scenario:
    """Payments in every state reconciliation must tell apart."""
    name = peer.name
    matched = await new_payment(ledger, name)
    await peer.register(matched)
    await peer.settle(matched.reference)
    await ledger.apply_provider_result(matched.reference, PaymentStatus.PAID, matched.amount, None)

    lost_callback = await new_payment(ledger, name)
    await peer.register(lost_callback)
    await peer.settle(lost_callback.reference)

    wrong_amount = await new_payment(ledger, name, amount=200_000)
    await peer.register(wrong_amount)
    await peer.settle(wrong_amount.reference, amount=180_000)

    missing_at_provider = await new_payment(ledger, name)
    await peer.register(missing_at_provider)  # registered, never settled: not in the day list
    await ledger.apply_provider_result(
        missing_at_provider.reference, PaymentStatus.PAID, missing_at_provider.amount, "X1"
    )

    never_paid = await new_payment(ledger, name)
    await peer.register(never_paid)
    await peer.settle(never_paid.reference, outcome="cancelled")

    stranger = await new_payment(ledger, name)
    stranger = stranger.__class__(**{**stranger.__dict__, "reference": "ZZUNKNOWN0000000001"})
    await peer.register(stranger)  # known to the provider only
    await peer.settle(stranger.reference)
    return Scenario(
        matched, lost_callback, wrong_amount, missing_at_provider, never_paid, stranger.reference
    )


async def run(
    ledger: PaymentLedger, peer: ProviderPeer, store: Store | None, out: Path, *, fix: bool = True
) -> ReconcileReport:
    return await reconcile(ledger, peer.provider, DAY, out_dir=out, store=store, fix=fix)


async def test_lost_callback_is_fixed_to_paid_with_one_event(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """A payment paid at the provider whose callback never came ends paid, with one event."""
    case = await build_scenario(ledger, peer)
    report = await run(ledger, peer, store, tmp_path)
    fixed = await ledger.get(case.lost_callback.id)
    assert fixed is not None
    assert fixed.status is PaymentStatus.PAID
    assert fixed.status_reason == "reconciliation"
    events = await events_of(store, case.lost_callback.id)
    paid_events = [e for e in events if e["type"] == "payment.paid"]
    assert len(paid_events) == 1
    assert report.counts.paid_at_provider_only == 1
    [line] = report.samples[DiscrepancyKind.PAID_AT_PROVIDER_ONLY]
    assert (line.reference, line.action) == (case.lost_callback.reference, Action.FIXED_TO_PAID)


async def test_every_case_lands_in_its_bucket(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Matched, lost callback, amount difference, paid here only and unknown are each counted."""
    case = await build_scenario(ledger, peer)
    report = await run(ledger, peer, store, tmp_path)
    counts = report.counts
    assert counts.provider_rows == 5
    assert counts.store_rows == 6
    assert counts.matched == 2  # paid at both; cancelled at the provider and unpaid here
    assert counts.paid_at_provider_only == 1
    assert counts.amount_difference == 1
    assert counts.paid_here_only == 1
    assert counts.unknown_reference == 1
    assert counts.fixed == 2
    [diff] = report.samples[DiscrepancyKind.AMOUNT_DIFFERENCE]
    assert (diff.reference, diff.action) == (
        case.wrong_amount.reference,
        Action.MOVED_TO_NEEDS_REVIEW,
    )
    assert (diff.provider_amount, diff.store_amount) == (180_000, 200_000)
    review = await ledger.get(case.wrong_amount.id)
    assert review is not None
    assert review.status is PaymentStatus.NEEDS_REVIEW
    assert review.paid_amount == 180_000
    [missing] = report.samples[DiscrepancyKind.PAID_HERE_ONLY]
    assert missing.reference == case.missing_at_provider.reference
    assert missing.provider_status == ""
    [unknown] = report.samples[DiscrepancyKind.UNKNOWN_REFERENCE]
    assert unknown.reference == case.unknown_reference
    untouched = await ledger.get(case.never_paid.id)
    assert untouched is not None
    assert untouched.status is PaymentStatus.PENDING


async def test_second_run_fixes_nothing(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Run twice: the second run applies no transition and adds no event."""
    case = await build_scenario(ledger, peer)
    await run(ledger, peer, store, tmp_path / "first")
    events_before = await store.fetch_all("SELECT id FROM outbox_events ORDER BY id")
    second = await run(ledger, peer, store, tmp_path / "second")
    assert second.counts.fixed == 0
    assert second.counts.paid_at_provider_only == 0
    assert second.counts.matched == 3
    [diff] = second.samples[DiscrepancyKind.AMOUNT_DIFFERENCE]
    assert (diff.reference, diff.action) == (
        case.wrong_amount.reference,
        Action.ALREADY_NEEDS_REVIEW,
    )
    assert await store.fetch_all("SELECT id FROM outbox_events ORDER BY id") == events_before


async def test_report_files_hold_summary_and_every_discrepancy(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """The JSON has the counts and lists; the CSV has one line per discrepancy."""
    case = await build_scenario(ledger, peer)
    out = tmp_path / "reports"
    report = await run(ledger, peer, store, out)
    stem = report_stem(peer.name, DAY)
    assert report.json_path == out / f"{stem}.json"
    assert report.csv_path == out / f"{stem}.csv"
    document = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    assert document["provider"] == peer.name
    assert document["day"] == "2026-03-01"
    assert document["counts"]["discrepancies"] == 4
    assert document["counts"]["matched"] == 2
    listed = document["discrepancies"]["unknown_reference"]
    assert listed["count"] == 1
    assert listed["truncated"] is False
    assert listed["items"][0]["reference"] == case.unknown_reference
    with (out / f"{stem}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    by_reference = {row["reference"]: row for row in rows}
    assert set(by_reference) == {
        case.lost_callback.reference,
        case.wrong_amount.reference,
        case.missing_at_provider.reference,
        case.unknown_reference,
    }
    assert by_reference[case.lost_callback.reference]["action"] == "fixed_to_paid"
    assert by_reference[case.wrong_amount.reference]["provider_amount"] == "180000"
    assert sorted(os.listdir(out)) == [f"{stem}.csv", f"{stem}.json"]


async def test_sample_cap_truncates_json_but_not_csv(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Beyond the cap, the JSON says truncated and the CSV still lists every line."""
    for _ in range(3):
        payment = await new_payment(ledger, peer.name)
        await ledger.apply_provider_result(payment.reference, PaymentStatus.PAID, 150_000, None)
    report = await reconcile(
        ledger, peer.provider, DAY, out_dir=tmp_path, store=store, sample_cap=1
    )
    assert report.counts.paid_here_only == 3
    document = json.loads(report.json_path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    listed = document["discrepancies"]["paid_here_only"]
    assert (listed["count"], listed["listed"], listed["truncated"]) == (3, 1, True)
    assert len(report.csv_path.read_text(encoding="utf-8").splitlines()) == 4  # type: ignore[union-attr]


async def test_without_fix_nothing_moves(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """With fix=False the lost callback is reported as not fixed and the payment stays pending."""
    case = await build_scenario(ledger, peer)
    report = await run(ledger, peer, store, tmp_path, fix=False)
    assert report.counts.fixed == 0
    [line] = report.samples[DiscrepancyKind.PAID_AT_PROVIDER_ONLY]
    assert line.action is Action.NOT_FIXED
    still = await ledger.get(case.lost_callback.id)
    assert still is not None
    assert still.status is PaymentStatus.PENDING


async def test_ledger_reads_give_the_same_result(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Without a store handle, reading through the ledger classifies exactly the same."""
    await build_scenario(ledger, peer)
    report = await run(ledger, peer, None, tmp_path)
    assert report.counts.as_dict() == {
        "provider_rows": 5,
        "store_rows": 6,
        "matched": 2,
        "paid_at_provider_only": 1,
        "paid_after_final": 0,
        "disputed_at_provider": 0,
        "amount_difference": 1,
        "paid_here_only": 1,
        "unknown_reference": 1,
        "duplicate_at_provider": 0,
        "fixed": 2,
        "discrepancies": 4,
    }


async def test_payment_of_previous_day_settled_today_is_fixed(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, clock: FakeClock, tmp_path: Path
) -> None:
    """A payment created before midnight and paid after it is found by reference and fixed."""
    clock.advance(dt.timedelta(hours=-10))  # 2026-02-28 23:00 in Vietnam
    late = await new_payment(ledger, peer.name)
    clock.advance(dt.timedelta(hours=10))
    await peer.register(late)
    await peer.settle(late.reference)
    report = await run(ledger, peer, store, tmp_path)
    assert report.counts.store_rows == 0
    assert report.counts.unknown_reference == 0
    assert report.counts.fixed == 1
    fixed = await ledger.get(late.id)
    assert fixed is not None
    assert fixed.status is PaymentStatus.PAID


async def test_other_providers_payments_are_left_out(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Paid payments of another provider are neither read nor reported as missing."""
    other = "vnpay" if peer.name == "dvcqg" else "dvcqg"
    payment = await new_payment(ledger, other)
    await ledger.apply_provider_result(payment.reference, PaymentStatus.PAID, 150_000, None)
    report = await run(ledger, peer, store, tmp_path)
    assert report.counts.store_rows == 0
    assert report.counts.discrepancies == 0


async def test_paid_at_provider_after_cancelled_here_goes_to_review(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """Cancelled here, paid at the provider: needs_review once, its event and security row."""
    payment = await new_payment(ledger, peer.name)
    await peer.register(payment)
    cancelled = await ledger.transition(payment.id, PaymentStatus.CANCELLED, reason="test")
    assert cancelled.applied
    await peer.settle(payment.reference)
    report = await run(ledger, peer, store, tmp_path / "first")
    assert report.counts.paid_after_final == 1
    assert report.counts.paid_at_provider_only == 0
    [line] = report.samples[DiscrepancyKind.PAID_AFTER_FINAL]
    assert (line.reference, line.action) == (payment.reference, Action.MOVED_TO_NEEDS_REVIEW)
    review = await ledger.get(payment.id)
    assert review is not None
    assert (review.status, review.review_reason) == (
        PaymentStatus.NEEDS_REVIEW,
        "paid_after_cancelled",
    )
    assert review.paid_amount == payment.amount
    assert review.provider_txn_id is not None
    events = [e["type"] for e in await events_of(store, payment.id)]
    assert events == ["payment.pending", "payment.cancelled", "payment.needs_review"]
    body = json.loads((await events_of(store, payment.id))[-1]["body"])
    assert body["data"]["review_reason"] == "paid_after_cancelled"
    rows = await store.fetch_all("SELECT kind, detail FROM security_event_log")
    assert [r["kind"] for r in rows] == ["late_payment"]
    assert json.loads(rows[0]["detail"])["payment_id"] == payment.id
    second = await run(ledger, peer, store, tmp_path / "second")
    assert second.counts.fixed == 0
    [again] = [d for found in second.samples.values() for d in found]
    assert (again.reference, again.action) == (payment.reference, Action.ALREADY_NEEDS_REVIEW)
    assert len(await store.fetch_all("SELECT kind FROM security_event_log")) == 1
