"""Large days stream through page by page; rows the store cannot explain are classified."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from adapters.payment.base import ProviderStatus, Transaction
from bench.reconcile import seed_payments
from gateway.payments import PaymentLedger, PaymentStatus
from gateway.payments.reconcile import DiscrepancyKind, reconcile
from gateway.store import Store
from tests.reconcile.conftest import DAY, ProviderPeer

LARGE_DAY = 50_000


async def test_fifty_thousand_rows_stream_through_pages(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """50,000 seeded transactions (5 list pages) all match 50,000 bulk-seeded payments."""
    await peer.admin("seed", {"day": DAY.isoformat(), "count": LARGE_DAY, "status": "paid"})
    await seed_payments(store, peer.name, DAY, LARGE_DAY - 2)
    await seed_payments(store, peer.name, DAY, 2, first_index=LARGE_DAY - 2, amount=9_000)
    seen: list[tuple[int, int | None]] = []
    report = await reconcile(
        ledger,
        peer.provider,
        DAY,
        out_dir=tmp_path,
        store=store,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.counts.provider_rows == LARGE_DAY
    assert report.counts.store_rows == LARGE_DAY
    assert report.counts.matched == LARGE_DAY - 2
    assert report.counts.amount_difference == 2
    assert (await peer.stats())["list_pages"] == 5
    assert seen[-1] == (LARGE_DAY, LARGE_DAY)
    assert (10_000, None) in seen


class ListedRows:
    """A provider reduced to its day list (a unit seam: only ``list_transactions`` is used)."""

    name = "dvcqg"

    def __init__(self, rows: list[Transaction]) -> None:
        self._rows = rows

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        for row in self._rows:
            yield row


def paid(reference: str, amount: int = 10_000) -> Transaction:
    return Transaction(reference, "1", amount, ProviderStatus.PAID, None)


async def test_reference_listed_twice_is_a_duplicate(
    ledger: PaymentLedger, store: Store, tmp_path: Path
) -> None:
    """A reference the provider lists twice is matched once and reported once as a duplicate."""
    await seed_payments(store, "dvcqg", DAY, 1)
    [reference] = [r["reference"] for r in await store.fetch_all("SELECT reference FROM payments")]
    provider = ListedRows([paid(reference), paid(reference)])
    report = await reconcile(ledger, provider, DAY, out_dir=tmp_path, store=store)  # type: ignore[arg-type]
    assert report.counts.matched == 1
    assert report.counts.duplicate_at_provider == 1


async def test_provider_reports_failure_for_a_payment_paid_here(
    ledger: PaymentLedger, store: Store, tmp_path: Path
) -> None:
    """Paid here but failed at the provider is paid-here-only, with the provider's status."""
    await seed_payments(store, "dvcqg", DAY, 1)
    [reference] = [r["reference"] for r in await store.fetch_all("SELECT reference FROM payments")]
    rows = [Transaction(reference, "2", 10_000, ProviderStatus.FAILED, None)]
    report = await reconcile(
        ledger,
        ListedRows(rows),  # type: ignore[arg-type]
        DAY,
        out_dir=tmp_path,
        store=store,
    )
    statuses: Mapping[str, str] = {
        d.reference: d.provider_status for d in report.samples[DiscrepancyKind.PAID_HERE_ONLY]
    }
    assert statuses == {reference: "failed"}
    assert report.counts.paid_here_only == 1


async def test_reversed_refunded_and_flagged_rows_go_to_review(
    ledger: PaymentLedger, store: Store, tmp_path: Path
) -> None:
    """Reversed or refunded at the provider but paid here, or flagged, → needs_review, once."""
    await seed_payments(store, "dvcqg", DAY, 3)
    await seed_payments(store, "dvcqg", DAY, 1, first_index=3, status=PaymentStatus.FAILED)
    references = [
        r["reference"]
        for r in await store.fetch_all("SELECT reference FROM payments ORDER BY created_at, id")
    ]
    listed = {
        references[0]: ProviderStatus.REVERSED,
        references[1]: ProviderStatus.REFUNDED,
        references[2]: ProviderStatus.FLAGGED,
        references[3]: ProviderStatus.REVERSED,  # failed here, money back: nothing owed
    }
    rows = [Transaction(ref, "T" + ref[-4:], 10_000, st, None) for ref, st in listed.items()]
    report = await reconcile(
        ledger,
        ListedRows(rows),
        DAY,
        out_dir=tmp_path,
        store=store,  # type: ignore[arg-type]
    )
    assert report.counts.disputed_at_provider == 3
    assert report.counts.matched == 1
    assert report.counts.fixed == 3
    reasons = {}
    for reference in references:
        payment = await ledger.get_by_reference(reference)
        assert payment is not None
        reasons[reference] = (str(payment.status), payment.status_reason)
    assert reasons[references[0]] == ("needs_review", "reversed_by_provider")
    assert reasons[references[1]] == ("needs_review", "refunded_by_provider")
    assert reasons[references[2]] == ("needs_review", "flagged_by_provider")
    assert reasons[references[3]][0] == "failed"
    kinds = sorted(r["kind"] for r in await store.fetch_all("SELECT kind FROM security_event_log"))
    assert kinds == ["flagged_by_provider", "refunded_by_provider", "reversed_by_provider"]
    again = await reconcile(
        ledger,
        ListedRows(rows),
        DAY,
        out_dir=tmp_path,
        store=store,  # type: ignore[arg-type]
    )
    assert again.counts.fixed == 0
    assert [str(d.action) for d in again.samples[DiscrepancyKind.DISPUTED_AT_PROVIDER]] == [
        "already_needs_review"
    ] * 3


async def test_paid_at_provider_but_final_here_goes_to_review(
    ledger: PaymentLedger, store: Store, tmp_path: Path
) -> None:
    """A payment expired here but paid at the provider → needs_review, paid_after_expired."""
    await seed_payments(store, "dvcqg", DAY, 1, status=PaymentStatus.EXPIRED)
    [reference] = [r["reference"] for r in await store.fetch_all("SELECT reference FROM payments")]
    report = await reconcile(
        ledger,
        ListedRows([paid(reference)]),  # type: ignore[arg-type]
        DAY,
        out_dir=tmp_path,
        store=store,
    )
    [line] = report.samples[DiscrepancyKind.PAID_AFTER_FINAL]
    assert str(line.action) == "moved_to_needs_review"
    assert report.counts.paid_at_provider_only == 0
    assert report.counts.fixed == 1
    after = await ledger.get_by_reference(reference)
    assert after is not None
    assert (after.status, after.status_reason) == (PaymentStatus.NEEDS_REVIEW, "paid_after_expired")
    assert (after.paid_amount, after.provider_txn_id) == (10_000, "1")
    [event] = await store.fetch_all("SELECT kind, detail FROM security_event_log")
    assert event["kind"] == "late_payment"
