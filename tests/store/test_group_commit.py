"""Units of work (``Store.run_unit``): group commits on SQLite, each unit alone in its failure.

A unit is the ledger's read, decision, conditional update, outbox row and security
event. On SQLite the units queued while the writer is busy are committed as one
group, each inside its own savepoint; on PostgreSQL each is its own statement.
Either way a unit that fails half-way leaves nothing behind and takes none of its
group mates with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import PaymentNotFound
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus as S
from gateway.store import Store
from gateway.store.base import Returns, Statement, Unit
from tests.store.conftest import events_of, new_payment


async def _refuse_events_of(store: Store, payment_id: str) -> None:
    """A trigger that refuses the outbox row of one payment (after its update ran)."""
    assert payment_id.replace("-", "").replace("_", "").isalnum()  # pasted into the SQL below
    async with store.transaction() as tx:
        if store.dialect.name == "sqlite":
            await tx.execute(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON outbox_events"
                f" WHEN NEW.payment_id = '{payment_id}'"
                " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
            return
        await tx.execute(
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN"
            f" IF NEW.payment_id = '{payment_id}' THEN RAISE EXCEPTION 'refused by the test';"
            " END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await tx.execute(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON outbox_events"
            " FOR EACH ROW EXECUTE FUNCTION refuse_one()"
        )


async def _queued_together(store: Store, *calls: Any) -> list[Any]:
    """Start ``calls`` while the writer is held, so that SQLite takes them as one group."""
    async with store.transaction():
        tasks = [asyncio.ensure_future(call) for call in calls]
        for _ in range(5):  # let every task reach the queue
            await asyncio.sleep(0)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_unit_failing_half_way_is_rolled_back_alone(
    ledger: PaymentLedger, store: Store
) -> None:
    """Its update is undone with its refused event; its group mates are paid, one event each."""
    payments = [await new_payment(ledger) for _ in range(4)]
    for payment in payments:
        await ledger.transition(payment.id, S.PENDING, reason="sent")
    refused = payments[1]
    await _refuse_events_of(store, refused.id)
    groups_before = getattr(store, "group_stats", None)
    before = (groups_before.groups, groups_before.units) if groups_before else (0, 0)

    outcomes = await _queued_together(
        store,
        *(
            ledger.apply_provider_result(p.reference, S.PAID, 150_000, f"TXN-{i}")
            for i, p in enumerate(payments)
        ),
        ledger.apply_provider_result("NO-SUCH-REF", S.PAID, 150_000, "TXN-X"),
    )

    assert isinstance(outcomes[1], Exception)
    assert "refused by the test" in str(outcomes[1])
    assert isinstance(outcomes[-1], PaymentNotFound)
    for index in (0, 2, 3):
        assert outcomes[index].applied, outcomes[index]
        stored = await ledger.get(payments[index].id)
        assert stored is not None
        assert (stored.status, stored.version) == (S.PAID, 3)
        assert [e["type"] for e in await events_of(store, stored.id)] == [
            "payment.pending",
            "payment.paid",
        ]
    left = await ledger.get(refused.id)
    assert left is not None
    assert (left.status, left.version, left.provider_txn_id) == (S.PENDING, 2, None)
    assert [e["type"] for e in await events_of(store, refused.id)] == ["payment.pending"]
    if store.dialect.name == "sqlite":
        stats = store.group_stats  # type: ignore[attr-defined]
        assert (stats.groups - before[0], stats.units - before[1]) == (1, 5)  # one group of 5


async def test_a_unit_sees_its_own_writes_and_raises_into_itself(store: Store) -> None:
    """A statement's error is thrown into the unit, which may handle it and go on."""
    async with store.transaction() as tx:
        await tx.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY)")

    def unit() -> Unit[tuple[int, list[Any]]]:
        inserted = yield Statement("INSERT INTO scratch (k) VALUES ($1)", ("a",))
        duplicate = False
        try:
            yield Statement("INSERT INTO scratch (k) VALUES ($1)", ("a",))
        except Exception:  # the duplicate key, as either backend's own class
            duplicate = True
        assert duplicate
        rows = yield Statement("SELECT k FROM scratch", (), Returns.ALL)
        return inserted, rows

    if store.dialect.name == "postgres":
        # A failed statement aborts a PostgreSQL transaction: nothing can follow it there.
        with pytest.raises(Exception):  # noqa: B017, PT011 (asyncpg's "transaction is aborted")
            await store.run_unit(unit())
        assert await store.fetch_all("SELECT k FROM scratch") == []
        return
    assert await store.run_unit(unit()) == (1, [{"k": "a"}])
    assert await store.fetch_all("SELECT k FROM scratch") == [{"k": "a"}]
