"""The payer's data at rest: digest and masked id kept, name and clear id erased on time."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from gateway.audit.config import AuditConfig
from gateway.audit.log import AuditLog
from gateway.audit.record import subject_digest
from gateway.dev.pki import init_dev_pki
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.personal_data import (
    SELECT_DUE,
    PayerIdDigest,
    PersonalDataEraser,
    purge_personal_data,
)
from gateway.store import Store, StoreConfig, open_store
from tests.store.conftest import PAYER_ID, PAYER_NAME, OpenStore, new_payment
from tests.support.clock import FakeClock

RETENTION = dt.timedelta(days=30)
KEY = b"payer-digest-test-key"
ERASED_METRIC = "lienthong_payments_personal_data_erased_total"


def _digest(id_number: str) -> str:
    return subject_digest(KEY, id_number)


def _erased_so_far() -> float:
    return REGISTRY.get_sample_value(ERASED_METRIC) or 0.0


async def _row(store: Store, payment_id: str) -> dict[str, object]:
    row = await store.fetch_one(
        "SELECT payer_name, payer_id_number, payer_id_digest, payer_id_masked, status,"
        " version, updated_at FROM payments WHERE id = $1",
        payment_id,
    )
    assert row is not None
    return dict(row)


@pytest.fixture
def keyed_ledger(store: Store, clock: FakeClock) -> PaymentLedger:
    """A ledger that digests payer ids under the test key."""
    return PaymentLedger(store, clock, payer_digest=_digest)


@pytest.fixture
def eraser(store: Store, clock: FakeClock) -> PersonalDataEraser:
    """The eraser on the test clock, 30 days' retention."""
    return PersonalDataEraser(store, RETENTION, digest=_digest, clock=clock)


async def test_new_payment_keeps_the_digest_and_masked_id(
    store: Store, keyed_ledger: PaymentLedger
) -> None:
    """A created payment stores the keyed digest and masked id next to the clear values."""
    payment = await new_payment(keyed_ledger)
    row = await _row(store, payment.id)
    assert row["payer_id_digest"] == _digest(PAYER_ID)
    assert row["payer_id_masked"] == "092*******23"
    assert (row["payer_name"], row["payer_id_number"]) == (PAYER_NAME, PAYER_ID)
    assert payment.payer_id_digest == _digest(PAYER_ID)
    stored = await keyed_ledger.get(payment.id)
    assert stored is not None
    assert stored.payer_id_masked == "092*******23"


async def test_final_payment_is_erased_after_the_retention_period(
    store: Store, keyed_ledger: PaymentLedger, eraser: PersonalDataEraser, clock: FakeClock
) -> None:
    """Final for 30 days and 1 s: name and id NULL; digest, mask, state untouched; counted."""
    payment = await new_payment(keyed_ledger)
    await keyed_ledger.transition(
        payment.id, PaymentStatus.PAID, paid_amount=payment.amount, reason="test"
    )
    before = await _row(store, payment.id)
    counted = _erased_so_far()
    clock.advance(RETENTION + dt.timedelta(seconds=1))
    report = await eraser.run_once()
    after = await _row(store, payment.id)
    assert report.erased == 1
    assert _erased_so_far() == counted + 1
    assert (after["payer_name"], after["payer_id_number"]) == (None, None)
    assert after["payer_id_digest"] == _digest(PAYER_ID)
    assert after["payer_id_masked"] == "092*******23"
    for unchanged in ("status", "version", "updated_at"):
        assert after[unchanged] == before[unchanged]
    assert (await eraser.run_once()).erased == 0  # once erased, never counted again


async def test_final_payment_is_kept_until_the_retention_period_ends(
    store: Store, keyed_ledger: PaymentLedger, eraser: PersonalDataEraser, clock: FakeClock
) -> None:
    """Final for 30 days less a second: the name and id are still there."""
    payment = await new_payment(keyed_ledger)
    await keyed_ledger.transition(payment.id, PaymentStatus.FAILED, reason="test")
    clock.advance(RETENTION - dt.timedelta(seconds=1))
    report = await eraser.run_once()
    row = await _row(store, payment.id)
    assert report.erased == 0
    assert (row["payer_name"], row["payer_id_number"]) == (PAYER_NAME, PAYER_ID)


async def test_retention_counts_from_becoming_final_not_from_creation(
    store: Store, keyed_ledger: PaymentLedger, eraser: PersonalDataEraser, clock: FakeClock
) -> None:
    """A payment created 40 days ago but final for only 10 keeps its personal data."""
    payment = await new_payment(keyed_ledger, ttl=dt.timedelta(days=60))
    clock.advance(dt.timedelta(days=30))
    await keyed_ledger.transition(payment.id, PaymentStatus.CANCELLED, reason="test")
    clock.advance(dt.timedelta(days=10))
    assert (await eraser.run_once()).erased == 0
    assert (await _row(store, payment.id))["payer_id_number"] == PAYER_ID


@pytest.mark.parametrize(
    "status", [PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.NEEDS_REVIEW]
)
async def test_open_payments_keep_their_personal_data(
    store: Store,
    keyed_ledger: PaymentLedger,
    eraser: PersonalDataEraser,
    clock: FakeClock,
    status: PaymentStatus,
) -> None:
    """Created, pending or under review a year later: nothing is erased (the case is not closed)."""
    payment = await new_payment(keyed_ledger)
    if status is PaymentStatus.PENDING:
        await keyed_ledger.transition(payment.id, status, reason="test")
    elif status is PaymentStatus.NEEDS_REVIEW:
        await keyed_ledger.transition(payment.id, status, paid_amount=1, reason="test")
    clock.advance(dt.timedelta(days=365))
    assert (await eraser.run_once()).erased == 0
    row = await _row(store, payment.id)
    assert row["status"] == str(status)
    assert (row["payer_name"], row["payer_id_number"]) == (PAYER_NAME, PAYER_ID)


async def test_rows_from_before_the_migration_get_their_digest(
    store: Store, ledger: PaymentLedger, eraser: PersonalDataEraser, clock: FakeClock
) -> None:
    """Rows without digest or masked id are backfilled, and erased ones keep what was backfilled."""
    kept = await new_payment(ledger)
    erased = await new_payment(ledger)
    await ledger.transition(erased.id, PaymentStatus.EXPIRED, reason="test")
    async with store.transaction() as tx:
        await tx.execute("UPDATE payments SET payer_id_digest = NULL, payer_id_masked = NULL")
    clock.advance(RETENTION + dt.timedelta(days=1))
    report = await eraser.run_once()
    assert (report.backfilled, report.erased) == (2, 1)
    for payment_id in (kept.id, erased.id):
        row = await _row(store, payment_id)
        assert row["payer_id_digest"] == _digest(PAYER_ID)
        assert row["payer_id_masked"] == "092*******23"
    assert (await _row(store, kept.id))["payer_id_number"] == PAYER_ID
    assert (await _row(store, erased.id))["payer_id_number"] is None


async def test_erasure_without_backfill_still_digests_the_id_first(
    store: Store, ledger: PaymentLedger, clock: FakeClock
) -> None:
    """A due row still lacking its digest gets it in the very update that erases the clear id."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, PaymentStatus.FAILED, reason="test")
    async with store.transaction() as tx:
        await tx.execute("UPDATE payments SET payer_id_digest = NULL, payer_id_masked = NULL")
    eraser = PersonalDataEraser(store, RETENTION, digest=_digest, clock=clock)
    eraser._backfill_done = True  # as after a backfill that ran before this row was written
    clock.advance(RETENTION * 2)
    assert (await eraser.run_once()).erased == 1
    row = await _row(store, payment.id)
    assert row["payer_id_number"] is None
    assert (row["payer_id_digest"], row["payer_id_masked"]) == (_digest(PAYER_ID), "092*******23")


async def test_two_instances_erase_each_payment_once(
    open_stores: OpenStore, clock: FakeClock
) -> None:
    """Two erasers on one database (two instances) count every erased payment exactly once."""
    stores = [await open_stores(), await open_stores()]
    ledger = PaymentLedger(stores[0], clock)
    ids = [(await new_payment(ledger)).id for _ in range(6)]
    for payment_id in ids:
        await ledger.transition(payment_id, PaymentStatus.FAILED, reason="test")
    clock.advance(RETENTION * 2)
    erasers = [
        PersonalDataEraser(s, RETENTION, digest=_digest, clock=clock, batch_size=2) for s in stores
    ]
    total = 0
    for _ in range(4):
        for eraser in erasers:
            total += (await eraser.run_once()).erased
    assert total == len(ids)
    rows = await stores[1].fetch_all("SELECT payer_name FROM payments")
    assert [r["payer_name"] for r in rows] == [None] * len(ids)


async def test_purge_runs_batches_until_nothing_is_due(
    store: Store, ledger: PaymentLedger, clock: FakeClock
) -> None:
    """The on-demand purge erases every due payment whatever the batch size, then stops."""
    due = [(await new_payment(ledger)).id for _ in range(5)]
    for payment_id in due:
        await ledger.transition(payment_id, PaymentStatus.PAID, paid_amount=150_000, reason="t")
    clock.advance(RETENTION * 2)
    open_one = await new_payment(ledger)
    eraser = PersonalDataEraser(store, RETENTION, digest=_digest, clock=clock, batch_size=2)
    seen: list[int] = []
    report = await eraser.run_until_done(lambda so_far: seen.append(so_far.erased))
    assert report.erased == len(due)
    assert seen == [2, 4, 5]
    assert (await _row(store, open_one.id))["payer_id_number"] == PAYER_ID


async def test_payer_digest_is_the_audit_logs_subject_digest(store: Store, tmp_path: Path) -> None:
    """With a configured key, or the key derived from the signing key, both digests agree."""
    init_dev_pki(tmp_path / "pki", clients=["motcua-demo"])
    signing_key = tmp_path / "pki" / "audit-signing.key"
    for config in (
        AuditConfig(signing_key_file=signing_key, digest_key=SecretStr("k" * 32)),
        AuditConfig(signing_key_file=signing_key),
    ):
        audit = AuditLog(store, config, "test")
        assert PayerIdDigest.from_audit_config(config)(PAYER_ID) == audit.subject_digest(PAYER_ID)


async def test_purge_with_retention_zero_erases_what_is_final_now(
    store: Store, ledger: PaymentLedger, clock: FakeClock
) -> None:
    """``purge_personal_data`` with 0 days erases every final payment at once, open ones kept."""
    final = await new_payment(ledger)
    still_open = await new_payment(ledger)
    await ledger.transition(final.id, PaymentStatus.CANCELLED, reason="test")
    report = await purge_personal_data(store, 0, AuditConfig(digest_key=SecretStr("k" * 32)))
    assert report.erased == 1
    assert (await _row(store, final.id))["payer_name"] is None
    assert (await _row(store, still_open.id))["payer_name"] == PAYER_NAME


async def test_sqlite_sweep_reads_only_rows_still_holding_personal_data(
    store: Store, store_config: StoreConfig
) -> None:
    """SQLite (no statistics) plans the sweep on the partial index, not on every final payment."""
    if store.dialect.name != "sqlite":
        pytest.skip("SQLite's planner only: PostgreSQL plans from its statistics")
    path = store_config.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN " + re.sub(r"\$(\d+)", r"?\1", SELECT_DUE), (0, 500)
        ).fetchall()
    assert "USING INDEX payments_personal_data_held" in str(plan)


async def test_migration_0004_upgrades_a_table_with_payments_in_it(
    store_config: StoreConfig, clock: FakeClock
) -> None:
    """A database from before 0004, with a payment: upgraded in place, then backfilled."""
    store = await open_store(store_config, clock=clock)
    try:
        payment = await new_payment(PaymentLedger(store, clock))
        async with store.transaction() as tx:  # back to the schema before 0004
            await tx.execute("DROP INDEX payments_personal_data_held")
            await tx.execute("ALTER TABLE payments DROP COLUMN payer_id_digest")
            await tx.execute("ALTER TABLE payments DROP COLUMN payer_id_masked")
            await tx.execute("DELETE FROM schema_migrations WHERE version = 4")
    finally:
        await store.close()
    upgraded = await open_store(store_config, clock=clock)
    try:
        before = await _row(upgraded, payment.id)
        report = await PersonalDataEraser(upgraded, RETENTION, digest=_digest).run_once()
        after = await _row(upgraded, payment.id)
    finally:
        await upgraded.close()
    assert (before["payer_id_digest"], before["payer_id_masked"]) == (None, None)
    assert before["payer_id_number"] == PAYER_ID
    assert report.backfilled == 1
    assert after["payer_id_digest"] == _digest(PAYER_ID)
    assert after["payer_id_masked"] == "092*******23"
