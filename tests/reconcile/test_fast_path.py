"""The fast paths of a reconciliation give the same report, byte for byte, as the general one.

The engine decides the common row (paid there and here, same amount, first seen)
with one int comparison and reads the store side as packed pages; the general
path (``_settle``/``_compare`` per row, the ledger's full payments) is the code
the engine had before them and still runs for every other row. On generated days
with every bucket (missing here, missing there, amount differs, state differs,
paid after final, disputed at the provider, duplicates, unknown references,
payments of another day), each seed is reconciled twice on identically seeded
stores, once with the fast paths and once without: the CSV files are the same
bytes, the JSON files the same but for their time fields, the stores end alike.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.payment.base import ProviderStatus, Transaction
from bench.reconcile import PAYMENT_COLUMNS, payment_row
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.reconcile import engine
from gateway.payments.reconcile.engine import reconcile
from gateway.payments.reconcile.store_side import day_bounds_us
from gateway.store import Store, StoreConfig, open_store
from tests.support.clock import FakeClock

DAY = dt.date(2026, 3, 1)
PROVIDER = "dvcqg"
STATES = (
    PaymentStatus.CREATED,
    PaymentStatus.PENDING,
    PaymentStatus.PAID,
    PaymentStatus.NEEDS_REVIEW,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELLED,
    PaymentStatus.EXPIRED,
)
REPORTS = (
    None,  # not in the provider's list: paid here only, or nothing to say
    *([ProviderStatus.PAID] * 4),  # mostly the common case
    ProviderStatus.PENDING,
    ProviderStatus.FAILED,
    ProviderStatus.CANCELLED,
    ProviderStatus.UNKNOWN,
    ProviderStatus.FLAGGED,
    ProviderStatus.REVERSED,
    ProviderStatus.REFUNDED,
)


def _reference(_day: dt.date, index: int) -> str:
    return f"FP{index:010d}"


class ListedProvider:
    """A provider whose day list is a given list of rows (the engine reads nothing else)."""

    name = PROVIDER

    def __init__(self, rows: list[Transaction]) -> None:
        self._rows = rows

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        assert day == DAY
        for row in self._rows:
            yield row


async def _seed(store: Store, layout: list[tuple[int, PaymentStatus, int]]) -> None:
    """Payments by (index, state, amount); indexes from 10,000 belong to the day before."""
    placeholders = ", ".join(f"${i + 1}" for i in range(len(PAYMENT_COLUMNS.split(","))))
    insert = f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({placeholders})"  # noqa: S608
    async with store.transaction() as tx:
        for index, state, amount in layout:
            day = DAY - dt.timedelta(days=1) if index >= 10_000 else DAY
            at = day_bounds_us(day)[0] + (index % 10_000) * 60_000_000
            row = payment_row(PROVIDER, _reference(day, index), index, at, amount, state)
            if state is PaymentStatus.NEEDS_REVIEW and index % 2:
                row = (*row[:16], amount - 1_000, *row[17:])  # paid another amount: compared
            await tx.execute(insert, *row)


def _generate(seed: int) -> tuple[list[tuple[int, PaymentStatus, int]], list[Transaction]]:
    """A day: the store's payments and the provider's list, with every bucket represented."""
    rng = random.Random(seed)
    layout: list[tuple[int, PaymentStatus, int]] = []
    rows: list[Transaction] = []
    for index in range(300):
        stored = index < 260  # the rest exist only at the provider (unknown references)
        if index >= 250:
            index += 10_000  # of the day before: looked up, then compared like the others
        state = rng.choice(STATES)
        amount = rng.choice((10_000, 20_000, 150_000))
        if stored:
            layout.append((index, state, amount))
        report = rng.choice(REPORTS) if stored else ProviderStatus.PAID
        if report is None:
            continue
        listed = amount if rng.random() < 0.8 else amount + rng.choice((-1_000, 5_000))
        txn = f"T{index:08d}" if rng.random() < 0.9 else None
        row = Transaction(_reference(DAY, index), txn, listed, report, None)
        rows.append(row)
        if rng.random() < 0.05:
            rows.append(row)  # listed twice
    rng.shuffle(rows)
    return layout, rows


async def _run(
    config: StoreConfig,
    clock: FakeClock,
    layout: Any,
    rows: Any,
    out: Path,
    *,
    fast: bool,
    fix: bool,
) -> tuple[bytes, dict[str, Any], list[dict[str, Any]]]:
    store = await open_store(config, clock=clock)
    try:
        await _seed(store, layout)
        ledger = PaymentLedger(store, clock)
        report = await reconcile(
            ledger, ListedProvider(rows), DAY, out_dir=out, fix=fix, store=store if fast else None
        )
        assert report.csv_path is not None
        assert report.json_path is not None
        document = json.loads(report.json_path.read_text(encoding="utf-8"))
        for varying in ("finished_at", "duration_s"):
            document.pop(varying)
        state = await store.fetch_all(
            "SELECT reference, status, version, paid_amount, provider_txn_id, status_reason"
            " FROM payments ORDER BY reference"
        )
        return report.csv_path.read_bytes(), document, state
    finally:
        await store.close()


@pytest.mark.parametrize("fix", [False, True])
@pytest.mark.parametrize("seed", range(6))
async def test_fast_and_general_paths_write_the_same_report(
    seed: int, fix: bool, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, rows = _generate(seed)
    fast = await _run(
        StoreConfig(url=f"sqlite:///{tmp_path}/fast.db"),
        clock,
        layout,
        rows,
        tmp_path / "fast",
        fast=True,
        fix=fix,
    )
    # The general path: no packed shortcut (nothing equals -1) and the ledger's reads.
    monkeypatch.setattr(engine, "PAID_UNSEEN", -1)
    general = await _run(
        StoreConfig(url=f"sqlite:///{tmp_path}/general.db"),
        clock,
        layout,
        rows,
        tmp_path / "general",
        fast=False,
        fix=fix,
    )
    assert fast[0] == general[0]  # the CSV, byte for byte
    assert fast[1] == general[1]  # the JSON summary, but for its time fields
    assert fast[2] == general[2]  # the payments as the run left them
    counts = fast[1]["counts"]
    for bucket in (
        "matched",
        "paid_at_provider_only",
        "paid_after_final",
        "disputed_at_provider",
        "amount_difference",
        "paid_here_only",
        "unknown_reference",
    ):
        assert counts[bucket] > 0, (seed, bucket, counts)
