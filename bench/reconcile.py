"""Reconciliation benchmark: a million provider rows against a million payments.

    python -m bench.reconcile                  1,000,000 rows, SQLite (and PostgreSQL if reachable)
    python -m bench.reconcile --count 20000    a small run
    python -m bench --reconcile                the same, as a scenario of ``make bench``

Setup (not part of the reconciliation figure): a payment sandbox runs in its own
process pinned to CPU 0 and synthesises ``count`` paid transactions for the day
(``/_admin/seed``); this process, pinned to CPU 1, bulk-inserts ``count``
matching paid payments into a fresh store. The insert loop is timed: it is the
baseline, a bare insert of the same rows into the same database at the same
batch size. Then :func:`gateway.payments.reconcile.reconcile` is timed end to end:
fetching the list over loopback, reading the store, comparing, writing the report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp

from adapters.http import make_session
from adapters.payment.base import PaymentProvider
from adapters.payment.dvcqg import sandbox as dvcqg_sandbox
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.sandbox_kit import serve
from adapters.payment.sandbox_ledger import seeded_reference
from adapters.payment.vnpay import sandbox as vnpay_sandbox
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig
from adapters.resilience import UpstreamGuard, UpstreamResilience
from bench.pg_schema import drop_schema as drop_pg_schema
from bench.pg_schema import postgres_config
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.reconcile import reconcile
from gateway.payments.reconcile.store_side import day_bounds_us
from gateway.store import Store, StoreConfig, open_store

BENCH_DAY = dt.date(2026, 3, 1)
DEFAULT_COUNT = 1_000_000
#: Rows per INSERT statement (and per transaction), for the seed and the baseline alike.
SEED_BATCH = 1_000
POSTGRES_DSN_ENV = "LIENTHONG_BENCH_POSTGRES_DSN"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"

PAYMENT_COLUMNS = (
    "id, reference, client_id, provider, status, amount, currency, dossier_code,"
    " procedure_code, agency_code, fee_lines, payer_name, payer_id_number, return_url,"
    " pay_url, provider_txn_id, paid_amount, status_reason, created_at, updated_at,"
    " expires_at, version"
)
_WIDTH = 22


def payment_row(
    provider: str,
    reference: str,
    index: int,
    created_at_us: int,
    amount: int,
    status: PaymentStatus,
) -> tuple[object, ...]:
    """One ``payments`` row (synthetic, no personal data) in :data:`PAYMENT_COLUMNS` order."""
    paid = status in (PaymentStatus.PAID, PaymentStatus.NEEDS_REVIEW)
    fee = json.dumps([{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "SoTien": amount}])
    return (
        f"pay_bench{index:015d}{provider[:1]}",
        reference,
        "one-stop",
        provider,
        str(status),
        amount,
        "VND",
        "000.00.01.H13-260301-0001",
        "1.001612",
        "000.00.01.H13",
        fee,
        None,
        None,
        "http://127.0.0.1:8080/return",
        None,
        f"9{index:09d}" if paid else None,
        amount if paid else None,
        "callback" if paid else None,
        created_at_us,
        created_at_us,
        created_at_us + 900_000_000,
        3 if paid else 1,
    )


async def seed_payments(
    store: Store,
    provider: str,
    day: dt.date,
    count: int,
    *,
    first_index: int = 0,
    amount: int = 10_000,
    status: PaymentStatus = PaymentStatus.PAID,
    batch: int = SEED_BATCH,
    reference: Callable[[dt.date, int], str] = seeded_reference,
) -> None:
    """Bulk-insert ``count`` payments of ``day`` whose references match the sandbox's seed.

    Test and benchmark setup only: it bypasses the ledger (no events, no
    idempotency keys), ``batch`` rows per INSERT and per transaction.
    """
    start, end = day_bounds_us(day)
    spacing = max(1, (end - start - 1) // max(first_index + count, 1))
    for low in range(first_index, first_index + count, batch):
        high = min(first_index + count, low + batch)
        params: list[object] = []
        groups: list[str] = []
        for index in range(low, high):
            at = start + index * spacing
            base = len(params)
            groups.append("(" + ", ".join(f"${base + j + 1}" for j in range(_WIDTH)) + ")")
            params.extend(payment_row(provider, reference(day, index), index, at, amount, status))
        async with store.transaction() as tx:
            await tx.execute(
                f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES {', '.join(groups)}",  # noqa: S608 (placeholders only)
                *params,
            )


# -- the sandbox in its own process --------------------------------------------------------


def _sandbox_process(provider: str, cpu: int | None, conn: Connection) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_serve_sandbox(provider, conn))


async def _serve_sandbox(provider: str, conn: Connection) -> None:
    if provider == "dvcqg":
        app = dvcqg_sandbox.create_sandbox_app(dvcqg_sandbox.DvcqgSandboxConfig())
    else:
        app = vnpay_sandbox.create_sandbox_app(vnpay_sandbox.VnpaySandboxConfig())
    runner, url = await serve(app, "127.0.0.1", 0)
    conn.send(url)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # any message (or EOF) stops the sandbox
    await runner.cleanup()


@dataclass
class SandboxProcess:
    """A payment sandbox in a child process (started and stopped by this benchmark)."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    url: str

    @classmethod
    def start(cls, provider: str, cpu: int | None) -> SandboxProcess:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_sandbox_process, args=(provider, cpu, child), daemon=True)
        process.start()
        if not parent.poll(30):
            process.terminate()
            raise RuntimeError("the sandbox process did not start")
        return cls(process, parent, str(parent.recv()))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def build_provider(name: str, url: str, session: aiohttp.ClientSession) -> PaymentProvider:
    """The real client of ``name`` against the sandbox at ``url``, under a real guard."""
    guard = UpstreamGuard(name, UpstreamResilience())
    if name == "dvcqg":
        return DvcqgProvider(DvcqgConfig(base_url=url), session, guard)
    config = VnpayConfig(
        pay_url=f"{url}/paymentv2/vpcpay.html", api_url=f"{url}/merchant_webapi/api/transaction"
    )
    return VnpayProvider(config, session, guard)


# -- one measured run ------------------------------------------------------------------------


@dataclass
class Figures:
    """What one backend measured."""

    backend: str
    count: int
    insert_s: float
    reconcile_s: float
    matched: int
    #: Peak RSS of this process during the reconciliation (its whole life where Linux
    #: cannot reset the mark: see :func:`reset_peak_rss`).
    peak_rss_mb: float
    #: CPU time (user + system) of this process during the insert loop and the reconciliation.
    insert_cpu_s: float = 0.0
    reconcile_cpu_s: float = 0.0
    #: Peak RSS of this process over its whole life (the seeding included).
    process_peak_rss_mb: float = 0.0

    def lines(self) -> list[str]:
        insert_rate = self.count / self.insert_s
        rate = self.count / self.reconcile_s
        return [
            f"[{self.backend}] {self.count:,} transactions",
            f"  baseline: bare insert loop ({SEED_BATCH} rows/statement)"
            f" {self.insert_s:.1f} s (CPU {self.insert_cpu_s:.1f} s)  {insert_rate:,.0f} rows/s",
            f"  reconcile (list over loopback + store + compare + report)"
            f" {self.reconcile_s:.1f} s (CPU {self.reconcile_cpu_s:.1f} s)  {rate:,.0f} rows/s",
            f"  ratio reconcile/insert time {self.reconcile_s / self.insert_s:.2f}"
            f"  (reconcile is {insert_rate and rate / insert_rate:.1f}x the insert rate)",
            f"  matched {self.matched:,}; peak RSS while reconciling {self.peak_rss_mb:,.0f} MB"
            f" (this process's life {self.process_peak_rss_mb:,.0f} MB)",
        ]


async def measure(
    backend: str, store_config: StoreConfig, sandbox_url: str, provider_name: str, count: int
) -> Figures:
    """Seed the sandbox and the store (timed as the baseline), then time ``reconcile``."""
    session = make_session()
    try:
        async with session.post(
            f"{sandbox_url}/_admin/seed",
            json={"day": BENCH_DAY.isoformat(), "count": count, "status": "paid"},
        ) as resp:
            resp.raise_for_status()
        store = await open_store(store_config)
        try:
            began, cpu = time.perf_counter(), time.process_time()
            await seed_payments(store, provider_name, BENCH_DAY, count)
            insert_s = time.perf_counter() - began
            insert_cpu_s = time.process_time() - cpu
            if store.dialect.name == "postgres":
                # Fresh statistics, as autovacuum keeps for a day's table: without them the
                # planner expects one row of the day and sorts the rest of it for each page.
                async with store.transaction() as tx:
                    await tx.execute("ANALYZE payments")
            provider = build_provider(provider_name, sandbox_url, session)
            with tempfile.TemporaryDirectory(prefix="lienthong-reconcile-") as out:
                reset = reset_peak_rss()
                began, cpu = time.perf_counter(), time.process_time()
                report = await reconcile(
                    PaymentLedger(store), provider, BENCH_DAY, out_dir=Path(out), store=store
                )
                reconcile_s = time.perf_counter() - began
                reconcile_cpu_s = time.process_time() - cpu
        finally:
            await store.close()
        async with session.post(f"{sandbox_url}/_admin/reset") as resp:
            resp.raise_for_status()
    finally:
        await session.close()
    if report.counts.matched != count or report.counts.discrepancies:
        raise RuntimeError(f"unexpected reconciliation result: {report.counts.as_dict()}")
    life = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Figures(
        backend,
        count,
        insert_s,
        reconcile_s,
        report.counts.matched,
        peak_rss_kb() / 1024 if reset else life,
        insert_cpu_s,
        reconcile_cpu_s,
        life,
    )


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS mark (Linux ``clear_refs`` 5); whether it could."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_kb() -> int:
    """This process's peak RSS since its mark was last reset (``VmHWM``), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpus() -> tuple[int | None, int | None]:
    """(sandbox CPU, this process's CPU) when there are two to pin to."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def measure_stores(
    provider: str,
    count: int,
    stores: Sequence[str] = ("sqlite", "postgres"),
    postgres_dsn: str | None = None,
    sandbox_cpu: int | None = None,
) -> tuple[list[Figures], list[str]]:
    """Start the sandbox (pinned to ``sandbox_cpu``), measure each store; (figures, notes).

    A store that cannot be measured (PostgreSQL unreachable) gets a note instead.
    The sandbox process is stopped before this returns.
    """
    sandbox = SandboxProcess.start(provider, sandbox_cpu)
    try:
        return asyncio.run(_run_all(provider, count, sandbox.url, stores, postgres_dsn))
    finally:
        sandbox.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--provider", choices=("dvcqg", "vnpay"), default="dvcqg")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    sandbox_cpu, own_cpu = _cpus()
    if own_cpu is not None:
        os.sched_setaffinity(0, {own_cpu})
    print(
        f"reconciliation benchmark: {args.provider}, {args.count:,} transactions, day {BENCH_DAY}",
        flush=True,
    )
    stores = ("sqlite",) if args.no_postgres else ("sqlite", "postgres")
    figures, notes = measure_stores(args.provider, args.count, stores, None, sandbox_cpu)
    for one in figures:
        for line in one.lines():
            print(line)
    for note in notes:
        print(note)
    return 0


async def _run_all(
    provider: str, count: int, sandbox_url: str, stores: Sequence[str], dsn: str | None
) -> tuple[list[Figures], list[str]]:
    figures: list[Figures] = []
    notes: list[str] = []
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
            sqlite = StoreConfig(url=f"sqlite:///{tmp}/bench.db")
            figures.append(await measure("sqlite", sqlite, sandbox_url, provider, count))
    if "postgres" not in stores:
        return figures, notes
    pg = await postgres_config(
        dsn or os.environ.get(POSTGRES_DSN_ENV, DEFAULT_POSTGRES_DSN), "bench_reconcile_"
    )
    if pg is None:
        notes.append("[postgres] not reachable: skipped")
        return figures, notes
    try:
        figures.append(await measure("postgres", pg, sandbox_url, provider, count))
    finally:
        await drop_pg_schema(pg)
    return figures, notes


if __name__ == "__main__":
    sys.exit(main())
