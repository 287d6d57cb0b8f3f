"""The callback scenario's database side: pending payments, the bare-insert baseline, the check.

Each public function here is a synchronous entry point that
:func:`bench.processes.run_in_process` runs in a child process (its own event
loop, its own connections), so the benchmark's parent never holds database
threads while it starts servers.

- :func:`seed_pending_payments`: open the store (which applies the gateway's
  migrations), bulk-insert ``count`` pending dvcqg payments, valid for the
  ledger (created now, expiring in a day, version 2 as after ``created →
  pending``, no personal data). Setup, not timed.
- :func:`insert_baseline`: the baseline of the same run: a bare loop of
  single-row ``INSERT`` + ``COMMIT`` through the same store layer (same driver,
  same durability: SQLite WAL ``synchronous=FULL``; PostgreSQL's defaults),
  one connection, one row at a time.
- :func:`check_ledger`: afterwards, every payment called back is paid exactly
  once with exactly one ``payment.paid`` outbox event; every other one is untouched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass

from bench.callbacks import Bill
from bench.pg_schema import drop_schema as drop_pg_schema
from bench.processes import quiet_logging
from gateway.store import Store, StoreConfig, open_store, to_us, utc_now

#: Rows per INSERT statement when seeding (22 parameters each).
SEED_BATCH = 500
BASELINE_TABLE = "bench_insert_baseline"
#: A pending payment seeded here has been created and registered (created → pending).
SEEDED_VERSION = 2

_COLUMNS = (
    "id, reference, client_id, provider, status, amount, currency, dossier_code,"
    " procedure_code, agency_code, fee_lines, payer_name, payer_id_number, return_url,"
    " pay_url, provider_txn_id, paid_amount, status_reason, created_at, updated_at,"
    " expires_at, version"
)
_WIDTH = 22


def bench_reference(tag: str, index: int) -> str:
    """A provider reference of 20 ``[A-Z0-9]``: ``BC`` + the run's 6-character tag + index."""
    return f"BC{tag.upper()}{index:012d}"


def _pending_row(
    tag: str, index: int, client_id: str, now: dt.datetime
) -> tuple[tuple[object, ...], Bill]:
    amount = 10_000 + (index % 50) * 1_000
    reference = bench_reference(tag, index)
    fee_lines = [{"kind": "charge", "code": "LP01", "name": "Le phi", "amount": amount}]
    created = to_us(now)
    row: tuple[object, ...] = (
        f"pay_bench{tag}{index:012d}",
        reference,
        client_id,
        "dvcqg",
        "pending",
        amount,
        "VND",
        "000.00.01.H13-261128-0001",
        "1.001612",
        "000.00.01.H13",
        json.dumps(fee_lines),
        None,
        None,
        "http://127.0.0.1:8799/return",
        f"http://127.0.0.1:9/pay/{reference}",
        None,
        None,
        "provider_created",
        created,
        created,
        to_us(now + dt.timedelta(days=1)),
        SEEDED_VERSION,
    )
    return row, Bill(reference, amount)


async def _seed(store: Store, count: int, tag: str, client_id: str) -> list[Bill]:
    now = utc_now()
    bills: list[Bill] = []
    for low in range(0, count, SEED_BATCH):
        params: list[object] = []
        groups: list[str] = []
        for index in range(low, min(count, low + SEED_BATCH)):
            row, bill = _pending_row(tag, index, client_id, now)
            base = len(params)
            groups.append("(" + ", ".join(f"${base + j + 1}" for j in range(_WIDTH)) + ")")
            params.extend(row)
            bills.append(bill)
        async with store.transaction() as tx:
            await tx.execute(
                f"INSERT INTO payments ({_COLUMNS}) VALUES {', '.join(groups)}",  # noqa: S608 (placeholders only)
                *params,
            )
    return bills


async def _reachable(config: StoreConfig) -> str | None:
    """None when the store's database answers, else why not (PostgreSQL only)."""
    if config.dialect != "postgres":
        return None
    import asyncpg

    try:
        conn = await asyncpg.connect(config.url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def new_schema_name(prefix: str) -> str:
    """A fresh PostgreSQL schema name for one run (dropped afterwards)."""
    return f"{prefix}_{secrets.token_hex(4)}"


def seed_pending_payments(
    config: StoreConfig, count: int, client_id: str
) -> tuple[str | None, tuple[Bill, ...]]:
    """``(why unreachable or None, the bills)``: ``count`` pending payments in a fresh store."""

    quiet_logging()

    async def main() -> tuple[str | None, tuple[Bill, ...]]:
        problem = await _reachable(config)
        if problem is not None:
            return problem, ()
        store = await open_store(config)
        try:
            return None, tuple(await _seed(store, count, secrets.token_hex(3), client_id))
        finally:
            await store.close()

    return asyncio.run(main())


@dataclass(frozen=True)
class InsertLoopResult:
    """The bare insert loop: each commit's latency (s), the loop's wall time and CPU time."""

    latencies: list[float]
    elapsed: float
    cpu_seconds: float


async def _insert_loop(store: Store, count: int, duration: float, warmup: int) -> InsertLoopResult:
    async with store.transaction() as tx:
        await tx.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id TEXT PRIMARY KEY,"
            " payment_id TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)"
        )
    body = json.dumps({"type": "payment.paid", "data": {"status": "paid", "amount": 10_000}})
    latencies: list[float] = []
    sql = f"INSERT INTO {BASELINE_TABLE} (id, payment_id, body, created_at) VALUES ($1, $2, $3, $4)"  # noqa: S608
    cpu_start, started = 0.0, 0.0
    for index in range(warmup + count):
        if index == warmup:
            cpu_start, started = time.process_time(), time.perf_counter()
        elif index > warmup and time.perf_counter() - started >= duration:
            break
        sent = time.perf_counter()
        async with store.transaction() as tx:
            await tx.execute(sql, f"row{index:012d}", f"pay_{index:012d}", body, to_us(utc_now()))
        if index >= warmup:
            latencies.append(time.perf_counter() - sent)
    return InsertLoopResult(
        latencies, time.perf_counter() - started, time.process_time() - cpu_start
    )


def insert_baseline(
    config: StoreConfig, count: int, duration: float, warmup: int = 20
) -> InsertLoopResult:
    """Up to ``count`` single-row INSERT + COMMIT for at most ``duration`` s (after ``warmup``)."""

    quiet_logging()

    async def main() -> InsertLoopResult:
        store = await open_store(config)
        try:
            return await _insert_loop(store, count, duration, warmup)
        finally:
            await store.close()

    return asyncio.run(main())


@dataclass(frozen=True)
class LedgerCheck:
    """What the store holds after the run, payment by payment."""

    paid_once: int
    untouched: int
    #: References that are neither (with what was found), at most a few.
    wrong: list[str]
    outbox_events: int


_LEDGER_SQL = (
    "SELECT p.reference, p.status, p.version, p.amount, p.paid_amount,"
    " COUNT(e.id) AS events,"
    " SUM(CASE WHEN e.type = 'payment.paid' THEN 1 ELSE 0 END) AS paid_events"
    " FROM payments p LEFT JOIN outbox_events e ON e.payment_id = p.id"
    " WHERE p.reference LIKE 'BC%'"
    " GROUP BY p.reference, p.status, p.version, p.amount, p.paid_amount"
)


def _classify(row: dict[str, object], called_back: bool, strict: bool) -> str | None:
    """None when the row is as it must be, else what is wrong with it."""
    events, paid_events = int(str(row["events"])), int(str(row["paid_events"] or 0))
    paid_once = (
        row["status"] == "paid"
        and int(str(row["version"])) == SEEDED_VERSION + 1
        and row["paid_amount"] == row["amount"]
        and events == 1
        and paid_events == 1
    )
    untouched = (
        row["status"] == "pending" and int(str(row["version"])) == SEEDED_VERSION and events == 0
    )
    if paid_once and called_back:
        return None
    if untouched and (not called_back or not strict):
        return None
    return (
        f"{row['reference']}: called back={called_back}, status {row['status']},"
        f" version {row['version']}, {events} event(s)"
    )


async def _check(store: Store, called_back: frozenset[str], strict: bool) -> LedgerCheck:
    rows = await store.fetch_all(_LEDGER_SQL)
    wrong: list[str] = []
    paid = untouched = events = 0
    for row in rows:
        events += int(str(row["events"]))
        problem = _classify(row, str(row["reference"]) in called_back, strict)
        if problem is not None:
            wrong.append(problem)
        elif row["status"] == "paid":
            paid += 1
        else:
            untouched += 1
    if len(wrong) > 5:
        wrong[5:] = [f"… {len(wrong) - 5} more"]
    return LedgerCheck(paid, untouched, wrong, events)


def check_ledger(
    config: StoreConfig, called_back: frozenset[str], strict: bool, drop_schema: bool
) -> LedgerCheck:
    """Check every bench payment (``strict``: every called-back one must be paid), then drop
    the run's PostgreSQL schema when ``drop_schema``."""

    quiet_logging()

    async def main() -> LedgerCheck:
        store = await open_store(config)
        try:
            return await _check(store, called_back, strict)
        finally:
            await store.close()
            if drop_schema:
                await drop_pg_schema(config)

    return asyncio.run(main())


def drop_schema(config: StoreConfig) -> None:
    """Drop the run's PostgreSQL schema (when the scenario stops before its check)."""
    quiet_logging()
    asyncio.run(drop_pg_schema(config))
