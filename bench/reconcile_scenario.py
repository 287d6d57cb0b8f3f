"""Reconciliation as a scenario of ``make bench`` (``--reconcile``; a small count in ``--quick``).

It runs :func:`bench.reconcile.measure_stores` in a process pinned where the
load generator runs, the payment sandbox pinned with the servers, exactly as
``python -m bench.reconcile`` does on its own, and reports rows per second:
the reconciliation (list over loopback + store + compare + report) beside its
baseline, the bulk insert of the same rows into the same database
(:data:`bench.reconcile.SEED_BATCH` rows per statement).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench import reconcile
from bench.figures import Comparison, Figures, ratio
from bench.processes import quiet_logging, run_in_process
from bench.scenario_kit import ScenarioReport
from bench.stack import BenchStack

PROVIDER = "dvcqg"


def _rows_figures(target: str, mode: str, rows: int, seconds: float, cpu: float) -> Figures:
    return Figures(
        scenario="reconcile",
        target=target,
        mode=mode,
        requests=rows,
        errors={},
        seconds=seconds,
        per_second=rows / seconds if seconds > 0 else math.nan,
        p50_ms=math.nan,
        p99_ms=math.nan,
        cpu_ms_per_request={target: cpu * 1000 / max(rows, 1)},
    )


def quiet_measure_stores(
    provider: str, count: int, stores: Sequence[str], dsn: str, sandbox_cpu: int | None
) -> tuple[list[reconcile.Figures], list[str]]:
    """:func:`bench.reconcile.measure_stores` with the child's INFO lines silenced: they
    would land in the middle of the printed report (structlog's default goes to stdout)."""
    quiet_logging()
    return reconcile.measure_stores(provider, count, stores, dsn, sandbox_cpu)


def reconciliation(stack: BenchStack) -> ScenarioReport:
    """A day's provider list of ``reconcile_count`` rows against as many payments, per store."""
    settings = stack.settings
    report = ScenarioReport(
        "reconcile",
        f"Reconciliation of {settings.reconcile_count:,} rows ({PROVIDER})",
        unit="rows/s",
    )
    sandbox_cpu = min(stack.cpus.servers) if stack.cpus.servers else None
    figures, notes = run_in_process(
        quiet_measure_stores,
        PROVIDER,
        settings.reconcile_count,
        settings.stores,
        settings.postgres_dsn,
        sandbox_cpu,
        cpus=stack.cpus.load_generator,
        timeout=3600.0,
    )
    for one in figures:
        insert = _rows_figures(
            "insert", f"{one.backend} bulk", one.count, one.insert_s, one.insert_cpu_s
        )
        matched = _rows_figures(
            "reconcile", one.backend, one.matched, one.reconcile_s, one.reconcile_cpu_s
        )
        report.figures += [insert, matched]
        report.comparisons.append(
            Comparison(
                f"{one.backend}: reconcile rows/s ÷ bulk insert rows/s",
                ratio(matched.per_second, insert.per_second),
                "×",
            )
        )
        report.notes.append(
            f"{one.backend}: {one.matched:,} matched; peak RSS of the process while"
            f" reconciling {one.peak_rss_mb:,.0f} MB"
            f" (over its life {one.process_peak_rss_mb:,.0f} MB)"
        )
    report.notes += notes
    report.notes.append(
        f"insert = the bulk insert of the same rows ({reconcile.SEED_BATCH:,} per statement and"
        " transaction); reconcile = fetching the list over loopback, reading the store,"
        " comparing, writing the report; CPU is the reconciling process's own (ms per row)"
    )
    return report
