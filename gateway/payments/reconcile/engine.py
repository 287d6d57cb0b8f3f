"""One reconciliation run: the provider's day list against the store's payments of the day.

The store's side is read first into ``reference → packed int`` (see
:mod:`gateway.payments.reconcile.store_side`); the provider's list is then streamed page by
page and each row settled on the spot, so memory holds one int per payment of
the day plus one page of the list. Provider rows whose reference is not among
the day's payments (created another day, or not ours) are looked up in batches.

Fixes go through :meth:`PaymentLedger.apply_provider_result`, the path callbacks
take: one conditional transition with its outbox event (and, for a move to
needs_review, its security event), so a payment whose callback arrives during
the run is never moved twice, and a second run finds nothing left to fix. A
payment paid at the provider but failed, cancelled or expired here goes to
needs_review (``paid_after_final``); one the provider lists as flagged,
reversed or refunded goes there too (``disputed_at_provider``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog

from adapters.payment.base import PaymentProvider, Transaction, TransactionPage
from adapters.payment.config import ProviderStatus
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import DisputedMoney, PaymentStatus
from gateway.payments.reconcile.index import DictIndex, PackedIndex
from gateway.payments.reconcile.model import Action, Discrepancy, DiscrepancyKind, ReconcileReport
from gateway.payments.reconcile.report_files import DEFAULT_SAMPLE_CAP, ReportFiles
from gateway.payments.reconcile.store_side import (
    AMOUNT_SHIFT,
    SEEN_BIT,
    CompactStoreSide,
    LedgerStoreSide,
    StoredPayment,
    StoreSide,
    mark_seen,
    pack,
    unpack,
)
from gateway.store import Store

#: ``progress(done, total)``: see :func:`reconcile`.
Progress = Callable[[int, int | None], None]

#: How often (rows) progress is reported.
PROGRESS_EVERY = 10_000
#: Unknown provider references looked up in the store per query.
LOOKUP_BATCH = 500

_OPEN = frozenset({PaymentStatus.CREATED, PaymentStatus.PENDING})
_PAID_HERE = frozenset({PaymentStatus.PAID, PaymentStatus.NEEDS_REVIEW})
_UNPAID_FINAL = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED})
_DISPUTED: dict[ProviderStatus, DisputedMoney] = {
    ProviderStatus.FLAGGED: DisputedMoney.FLAGGED,
    ProviderStatus.REVERSED: DisputedMoney.REVERSED,
    ProviderStatus.REFUNDED: DisputedMoney.REFUNDED,
}
RECONCILIATION_REASON = "reconciliation"
#: A payment paid here, not yet seen at the provider, amount 0 (packed; see store_side.pack).
PAID_UNSEEN = pack(PaymentStatus.PAID, 0)

_log = structlog.get_logger("payments.reconcile")


async def reconcile(
    ledger: PaymentLedger,
    provider: PaymentProvider,
    day: dt.date,
    *,
    out_dir: Path,
    progress: Progress | None = None,
    fix: bool = True,
    store: Store | None = None,
    sample_cap: int = DEFAULT_SAMPLE_CAP,
    timer: Callable[[], float] = time.perf_counter,
) -> ReconcileReport:
    """Reconcile ``provider``'s list for ``day`` (Vietnam time) with the store; the report.

    Writes ``reconcile-<provider>-<day>.json`` and ``.csv`` into ``out_dir``. With
    ``fix``, payments paid at the provider but open here are moved through the
    ledger (to paid, or to needs_review when the amount differs). ``store``, when
    given, is read with a compact query (use it for large days); otherwise the
    ledger's own reads are used. ``progress(done, total)`` is called every
    :data:`PROGRESS_EVERY` rows: while the store is read, ``done`` counts
    payments and ``total`` is None; while the list is compared, ``done`` counts
    provider rows and ``total`` is the number of payments here (an estimate).
    Provider errors (adapter errors) propagate and no report file is left.
    """
    side: StoreSide = CompactStoreSide(store) if store is not None else LedgerStoreSide(ledger)
    report = ReconcileReport(provider=provider.name, day=day, fix=fix)
    files = ReportFiles(out_dir, provider.name, day, sample_cap=sample_cap)
    started = timer()
    _log.info("reconcile.started", provider=provider.name, day=day.isoformat(), fix=fix)
    try:
        run = _Run(ledger, provider, side, report, files, progress, fix=fix)
        await run.execute(day)
        report.duration_s = timer() - started
        files.finish(report, finished_at=dt.datetime.now(dt.UTC))
    except BaseException:
        files.abort()
        _log.warning("reconcile.aborted", provider=provider.name, day=day.isoformat())
        raise
    _log.info(
        "reconcile.finished",
        provider=provider.name,
        day=day.isoformat(),
        duration_ms=round(report.duration_s * 1000, 3),
        **report.counts.as_dict(),
    )
    return report


class _Run:
    """The state of one run: the packed payments of the day and the pending lookups."""

    def __init__(
        self,
        ledger: PaymentLedger,
        provider: PaymentProvider,
        side: StoreSide,
        report: ReconcileReport,
        files: ReportFiles,
        progress: Progress | None,
        *,
        fix: bool,
    ) -> None:
        self._ledger = ledger
        self._provider = provider
        self._side = side
        self._report = report
        self._counts = report.counts
        self._files = files
        self._progress = progress
        self._fix = fix
        self._known: PackedIndex | DictIndex = (
            PackedIndex() if isinstance(side, CompactStoreSide) else DictIndex()
        )
        self._pending: list[Transaction] = []

    async def execute(self, day: dt.date) -> None:
        await self._read_store(day)
        total = self._counts.store_rows
        counts, known, progress, every = self._counts, self._known, self._progress, PROGRESS_EVERY
        paid = ProviderStatus.PAID
        async for page in _pages_of(self._provider, day):
            references, amounts, size = page.references, page.amounts, len(page)
            paid_rows = [status is paid for status in page.statuses]
            before = counts.provider_rows
            start = 0
            while start < size:
                # The common row, paid there and here with the same amount, first seen: one
                # int compared in the index, what _row would decide without its calls.
                stop = known.match_common(
                    (references, amounts, paid_rows), start, (PAID_UNSEEN, AMOUNT_SHIFT)
                )
                counts.matched += stop - start
                if stop < size:
                    await self._row(page.row(stop))
                    stop += 1
                start = stop
            counts.provider_rows += size
            if progress is not None:
                for done in range((before // every + 1) * every, counts.provider_rows + 1, every):
                    progress(done, total)
        await self._look_up_pending()
        if self._progress is not None:
            self._progress(self._counts.provider_rows, total)
        self._report_paid_here_only()

    async def _row(self, row: Transaction) -> None:
        """One provider row, decided the general way (in the list's order)."""
        packed = self._known.get(row.reference)
        if packed is None:
            self._pending.append(row)
            if len(self._pending) >= LOOKUP_BATCH:
                await self._look_up_pending()
        elif row.status is ProviderStatus.PAID and packed == PAID_UNSEEN | (
            row.amount << AMOUNT_SHIFT
        ):
            self._known[row.reference] = packed | SEEN_BIT
            self._counts.matched += 1
        else:
            await self._settle(row, packed)

    async def _read_store(self, day: dt.date) -> None:
        known = self._known
        count = 0
        async for references, values in self._side.day_packed(day, self._provider.name):
            before = count
            known.add_page(references, values)
            count += len(references)
            if self._progress is not None and count // PROGRESS_EVERY > before // PROGRESS_EVERY:
                self._progress(count, None)
        known.freeze()
        self._counts.store_rows = count
        if self._progress is not None:
            self._progress(count, None)

    async def _look_up_pending(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        found = await self._side.lookup(sorted({row.reference for row in pending}))
        for row in pending:
            packed = self._known.get(row.reference)
            if packed is not None:  # listed twice within this batch
                await self._settle(row, packed)
                continue
            stored: StoredPayment | None = found.get(row.reference)
            if stored is None or stored.provider != self._provider.name:
                self._add(DiscrepancyKind.UNKNOWN_REFERENCE, row, Action.REPORTED)
                continue
            # A payment of another day, settled on this one: compare it like the others.
            packed = pack(stored.status, stored.amount)
            self._known[row.reference] = packed
            await self._settle(row, packed)

    async def _settle(self, row: Transaction, packed: int) -> None:
        status, amount, seen = unpack(packed)
        if seen:
            self._add(DiscrepancyKind.DUPLICATE_AT_PROVIDER, row, Action.REPORTED, status, amount)
            return
        self._known[row.reference] = mark_seen(packed)
        await self._compare(row, status, amount)

    async def _compare(self, row: Transaction, status: PaymentStatus, amount: int) -> None:
        disputed = _DISPUTED.get(row.status)
        if disputed is not None:
            await self._compare_disputed(row, disputed, status, amount)
            return
        if row.status is not ProviderStatus.PAID:
            if status in _PAID_HERE:
                self._add(DiscrepancyKind.PAID_HERE_ONLY, row, Action.REPORTED, status, amount)
            else:
                self._counts.matched += 1
            return
        if status is PaymentStatus.PAID:
            if row.amount == amount:
                self._counts.matched += 1
            else:
                kind = DiscrepancyKind.AMOUNT_DIFFERENCE
                self._add(kind, row, Action.LEFT_FOR_REVIEW, status, amount)
        elif status is PaymentStatus.NEEDS_REVIEW:
            kind = DiscrepancyKind.AMOUNT_DIFFERENCE
            self._add(kind, row, Action.ALREADY_NEEDS_REVIEW, status, amount)
        elif status in _OPEN:
            same_amount = row.amount == amount
            kind = (
                DiscrepancyKind.PAID_AT_PROVIDER_ONLY
                if same_amount
                else DiscrepancyKind.AMOUNT_DIFFERENCE
            )
            await self._apply(row, PaymentStatus.PAID, kind, status, amount)
        else:  # failed, cancelled or expired here: the money is taken, people decide
            kind = DiscrepancyKind.PAID_AFTER_FINAL
            await self._apply(row, PaymentStatus.PAID, kind, status, amount)

    async def _compare_disputed(
        self, row: Transaction, disputed: DisputedMoney, status: PaymentStatus, amount: int
    ) -> None:
        """Flagged, reversed or refunded at the provider: a case for people unless moot."""
        kind = DiscrepancyKind.DISPUTED_AT_PROVIDER
        if status is PaymentStatus.NEEDS_REVIEW:
            self._add(kind, row, Action.ALREADY_NEEDS_REVIEW, status, amount)
        elif status in _UNPAID_FINAL and disputed is not DisputedMoney.FLAGGED:
            self._counts.matched += 1  # the money went back, and it is not paid here
        else:
            await self._apply(row, disputed, kind, status, amount)

    async def _apply(
        self,
        row: Transaction,
        reported: PaymentStatus | DisputedMoney,
        kind: DiscrepancyKind,
        status: PaymentStatus,
        amount: int,
    ) -> None:
        """Apply the provider's row through the ledger (a lost callback, a late or disputed one)."""
        if not self._fix:
            self._add(kind, row, Action.NOT_FIXED, status, amount)
            return
        result = await self._ledger.apply_provider_result(
            row.reference,
            reported,
            row.amount,
            row.provider_txn_id,
            reason=RECONCILIATION_REASON,
        )
        now = result.payment
        if not result.applied:
            # Someone (a late callback, another instance) moved it first: judge it as it is.
            now_amount = now.paid_amount if now.paid_amount is not None else now.amount
            if now.status in _OPEN or now.status is status:
                self._add(kind, row, Action.LEFT_FOR_REVIEW, now.status, now_amount)
            else:
                self._known[row.reference] = pack(now.status, now_amount, seen=True)
                await self._compare(row, now.status, now_amount)
            return
        self._counts.fixed += 1
        self._known[row.reference] = pack(now.status, row.amount, seen=True)
        action = (
            Action.FIXED_TO_PAID
            if now.status is PaymentStatus.PAID
            else Action.MOVED_TO_NEEDS_REVIEW
        )
        _log.info(
            "reconcile.fixed",
            provider=self._provider.name,
            payment_id=now.id,
            payment_status=str(now.status),
            event_id=result.event_id,
        )
        self._add(kind, row, action, status, amount)

    def _report_paid_here_only(self) -> None:
        kind = DiscrepancyKind.PAID_HERE_ONLY
        for reference, packed in self._known.items():
            status, amount, seen = unpack(packed)
            if not seen and status in _PAID_HERE:
                self._files.add(
                    self._report,
                    Discrepancy(
                        kind,
                        reference,
                        Action.REPORTED,
                        store_status=str(status),
                        store_amount=amount,
                    ),
                )

    def _add(
        self,
        kind: DiscrepancyKind,
        row: Transaction,
        action: Action,
        status: PaymentStatus | None = None,
        amount: int | None = None,
    ) -> None:
        self._files.add(
            self._report,
            Discrepancy(
                kind,
                row.reference,
                action,
                provider_status=str(row.status),
                provider_amount=row.amount,
                provider_txn_id=row.provider_txn_id,
                store_status=str(status) if status is not None else "",
                store_amount=amount,
            ),
        )


#: Rows per page when a provider has only :meth:`~PaymentProvider.list_transactions`.
ROWS_PER_PAGE = 100


async def _pages_of(provider: PaymentProvider, day: dt.date) -> AsyncIterator[TransactionPage]:
    """The provider's day list as column pages (its own reader when it has one)."""
    reader = getattr(provider, "list_transaction_pages", None)
    if reader is not None:
        async for page in reader(day):
            yield page
        return
    page = TransactionPage([], [], [], [])
    try:
        async for row in provider.list_transactions(day):
            page.references.append(row.reference)
            page.txn_ids.append(row.provider_txn_id)
            page.amounts.append(row.amount)
            page.statuses.append(row.status)
            if len(page) >= ROWS_PER_PAGE:
                yield page
                page = TransactionPage([], [], [], [])
    except Exception:
        if len(page):
            yield page  # the rows before the error are settled, as they were one by one
        raise
    if len(page):
        yield page
