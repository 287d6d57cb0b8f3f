"""The quarterly report over a quarter of audited exchanges, beside a plain scan of the rows.

    python -m bench.report_bench [--count 1000000] [--no-postgres]

Per store (SQLite in a temporary file; PostgreSQL in a fresh schema, dropped after):
seed ``count`` audit records over 2026-Q4, in time order as the writer appends them
(inbound verifications and look-ups with their ``detail.context``, each that went
upstream with its upstream call folded in as ``detail.upstream``, as the audit
middleware writes them since issue 13; a few breaker refusals among the calls) and
``count / 20`` payments, in bulk (:data:`SEED_BATCH` rows per statement: the chain's
digests are not computed, the report never reads them); then time

* the plain scan: ``SELECT count(*), sum(length(detail))`` over the same rows (every
  row and its JSON text read once, nothing grouped), and
* the report: :func:`gateway.reports.command.generate` (every query, the page, the
  workbook, the CSV files), the figure issue 14 bounds at 10 s for 1,000,000 rows.

A progress bar on stderr (on a terminal) follows the seeding and the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.pg_schema import drop_schema as drop_pg_schema
from bench.pg_schema import postgres_config
from gateway.audit.record import RECORD_COLUMNS
from gateway.reports.command import ProgressBar, generate
from gateway.reports.period import Period
from gateway.store import StoreConfig, open_store

DEFAULT_COUNT = 1_000_000
POSTGRES_DSN_ENV = "LIENTHONG_BENCH_POSTGRES_DSN"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
#: Rows per INSERT (16 columns each: under both drivers' parameter limits).
SEED_BATCH = 1_000
PERIOD = Period.quarter("2026-Q4")
#: When the report is made (the quarter is over).
NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
_AGENCIES = [f"000.00.{n:02d}.H13" for n in range(1, 13)]
_PROCEDURES = ["1.001612", "2.000488", "1.004227", "2.001711", "1.000775"]
_VERDICTS = ["match"] * 6 + ["match_without_diacritics", "mismatch", "not_found"]
_UPSTREAM = [
    ("population.CongDan_Lookup", "ok"),
    ("population.CongDan_Lookup", "ok"),
    ("population.CongDan_Lookup", "timeout"),
    ("business.chiTietDoanhNghiep", "ok"),
    ("business.chiTietDoanhNghiep", "not_found"),
    ("dvcqg.query_status", "ok"),
    ("vnpay.querydr", "ok"),
    ("population.CongDan_Lookup", "circuit_open"),
]


@dataclass
class Figures:
    """One store's measurement."""

    backend: str
    count: int
    payments: int
    seed_s: float
    scan_s: float
    report_s: float
    html_bytes: int


def _records(rng: random.Random, count: int, start_us: int, span_us: int) -> list[tuple[Any, ...]]:
    rows = []
    times = sorted(start_us + rng.randrange(span_us) for _ in range(count))
    for seq, t in enumerate(times, start=1):
        op = rng.choice(["citizens.verify"] * 4 + ["citizens.lookup", "businesses.read"])
        status = rng.choice([200] * 18 + [404, 422, 502])
        ctx = {"agency_code": rng.choice(_AGENCIES), "procedure_code": rng.choice(_PROCEDURES)}
        detail: dict[str, Any] = {"method": "POST", "context": ctx}
        if op == "citizens.verify" and status == 200:
            detail["verdict"] = rng.choice(_VERDICTS)
        if status != 422:  # refused before any call: nothing upstream
            call, call_outcome = rng.choice(_UPSTREAM)
            detail["upstream"] = [
                {"operation": call, "outcome": call_outcome, "attempts": 1, "duration_ms": 12.5}
            ]
        outcome = "ok" if status < 400 else "rejected" if status < 500 else "error"
        kind = "inbound"
        rows.append(
            (
                "bench",
                seq,
                t,
                kind,
                "motcua",
                op,
                outcome,
                status,
                f"req-{seq}",
                None,
                None,
                "[]",
                "[]",
                json.dumps(detail, sort_keys=True),
                "0" * 64,
                "0" * 64,
            )
        )
    return rows


_PAYMENT_COLUMNS = (
    "id, reference, client_id, provider, status, amount, currency, dossier_code,"
    " procedure_code, agency_code, fee_lines, return_url, paid_amount, created_at,"
    " updated_at, expires_at, version"
)


def _payments(rng: random.Random, count: int, start_us: int, span_us: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(count):
        created = start_us + rng.randrange(span_us)
        status = rng.choice(["paid"] * 6 + ["failed", "expired", "needs_review", "pending"])
        amount = rng.choice([50_000, 150_000, 1_250_000])
        rows.append(
            (
                f"pay_bench{n:012d}",
                f"B{n:012d}",
                "motcua",
                rng.choice(["dvcqg", "vnpay"]),
                status,
                amount,
                "VND",
                f"H13-{n}",
                rng.choice(_PROCEDURES),
                rng.choice(_AGENCIES),
                "[]",
                "http://127.0.0.1/return",
                amount if status == "paid" else None,
                created,
                created + rng.randrange(60, 3_600) * 1_000_000,
                created + 86_400_000_000,
                3,
            )
        )
    return rows


async def _insert(store: Any, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
    width = len(rows[0])
    for first in range(0, len(rows), SEED_BATCH):
        chunk = rows[first : first + SEED_BATCH]
        values = ", ".join(
            "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
            for i in range(len(chunk))
        )
        params = [v for row in chunk for v in row]
        async with store.transaction() as tx:
            await tx.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", *params)  # noqa: S608


async def measure(backend: str, config: StoreConfig, count: int) -> Figures:
    """Seed one store, then time the plain scan and the report."""
    rng = random.Random(14)
    bar = ProgressBar(sys.stderr)
    span_us = PERIOD.end_us - PERIOD.start_us
    store = await open_store(config)
    try:
        started = time.perf_counter()
        n_pay = max(count // 20, 1)
        step = max(count // 20, SEED_BATCH)
        for first in range(0, count, step):
            size = min(step, count - first)
            # appended in time order, as the audit writer does: chunk by chunk through the quarter
            chunk_start = PERIOD.start_us + span_us * first // count
            rows = _records(rng, size, chunk_start, span_us * size // count)
            rows = [(r[0], r[1] + first, *r[2:]) for r in rows]
            await _insert(store, "audit_records", ", ".join(RECORD_COLUMNS), rows)
            bar(f"{backend} seed", first + size, count)
        await _insert(
            store, "payments", _PAYMENT_COLUMNS, _payments(rng, n_pay, PERIOD.start_us, span_us)
        )
        if backend == "postgres":
            await store.fetch_all("ANALYZE audit_records")
        seed_s = time.perf_counter() - started
        started = time.perf_counter()
        scan = await store.fetch_one(
            "SELECT count(*) AS n, sum(length(detail)) AS chars FROM audit_records"
            " WHERE time_us >= $1 AND time_us < $2",
            PERIOD.start_us,
            PERIOD.end_us,
        )
        scan_s = time.perf_counter() - started
        assert scan is not None
        assert int(scan["n"]) == count
        started = time.perf_counter()
        report = await generate(store, PERIOD, now=NOW, progress=bar)
        report_s = time.perf_counter() - started
        verified = sum(v.total for v in report.figures.verifications)
        looked = sum(lk.total for lk in report.figures.lookups)
        calls = sum(s.calls for s in report.figures.availability)
        assert verified + looked == count, (verified, looked, count)
        folded = await store.fetch_one(
            "SELECT count(*) AS n FROM audit_records WHERE detail LIKE '%\"upstream\"%'"
        )
        assert folded is not None
        assert calls == int(folded["n"]), (calls, folded["n"])
    finally:
        await store.close()
    return Figures(backend, count, n_pay, seed_s, scan_s, report_s, len(report.html))


async def _run_all(
    count: int, stores: Sequence[str], dsn: str | None
) -> tuple[list[Figures], list[str]]:
    figures: list[Figures] = []
    notes: list[str] = []
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="lienthong-bench-report-") as tmp:
            config = StoreConfig(url=f"sqlite:///{tmp}/bench.db")
            figures.append(await measure("sqlite", config, count))
    if "postgres" in stores:
        pg = await postgres_config(
            dsn or os.environ.get(POSTGRES_DSN_ENV, DEFAULT_POSTGRES_DSN), "bench_report_"
        )
        if pg is None:
            notes.append("[postgres] not reachable: skipped")
        else:
            try:
                figures.append(await measure("postgres", pg, count))
            finally:
                await drop_pg_schema(pg)
    return figures, notes


def measure_stores(
    count: int, stores: Sequence[str], dsn: str | None
) -> tuple[list[Figures], list[str]]:
    """Every store's measurement (in this process); (figures, notes)."""
    return asyncio.run(_run_all(count, stores, dsn))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_bench")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    stores = ("sqlite",) if args.no_postgres else ("sqlite", "postgres")
    figures, notes = measure_stores(args.count, stores, None)
    for f in figures:
        print(
            f"{f.backend:<9} {f.count:>10,} records  seed {f.seed_s:7.1f} s"
            f"  plain scan {f.scan_s:6.2f} s  report {f.report_s:6.2f} s"
            f"  ({f.report_s / f.scan_s if f.scan_s else float('nan'):.1f}× the scan)"
        )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
