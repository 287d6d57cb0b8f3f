"""The quarterly report as a scenario of ``make bench`` (``report``; a small count in ``--quick``).

It runs :func:`bench.report_bench.measure_stores` in a process pinned where the load
generator runs (as the reconciliation scenario does) and reports records per second:
the report (every query, the page, the workbook, the CSV files) beside its baseline,
a plain scan of the same rows (``count(*)`` and the length of every ``detail``). At the
full size (:data:`bench.report_bench.DEFAULT_COUNT`, 1,000,000 records) it also checks
issue 14's bound: the report within 10 s on each store.
"""

from __future__ import annotations

import math

from bench import report_bench
from bench.figures import Check, Comparison, Figures, ratio
from bench.processes import quiet_logging, run_in_process
from bench.scenario_kit import ScenarioReport
from bench.stack import BenchStack

#: Issue 14: a quarter of 1,000,000 audited exchanges reports in under 10 s.
REPORT_SECONDS_TARGET = 10.0


def _figures(target: str, mode: str, rows: int, seconds: float) -> Figures:
    return Figures(
        scenario="report",
        target=target,
        mode=mode,
        requests=rows,
        errors={},
        seconds=seconds,
        per_second=rows / seconds if seconds > 0 else math.nan,
        p50_ms=math.nan,
        p99_ms=math.nan,
        cpu_ms_per_request={},
    )


def quiet_measure_stores(
    count: int, stores: tuple[str, ...], dsn: str
) -> tuple[list[report_bench.Figures], list[str]]:
    """:func:`bench.report_bench.measure_stores` with the child's INFO lines silenced."""
    quiet_logging()
    return report_bench.measure_stores(count, stores, dsn)


def report(stack: BenchStack) -> ScenarioReport:
    """A quarter of ``report_count`` audited exchanges, per store: report vs plain scan."""
    settings = stack.settings
    out = ScenarioReport(
        "report",
        f"Quarterly report over {settings.report_count:,} audit records",
        unit="records/s",
    )
    figures, notes = run_in_process(
        quiet_measure_stores,
        settings.report_count,
        tuple(settings.stores),
        settings.postgres_dsn,
        cpus=stack.cpus.load_generator,
        timeout=3600.0,
    )
    for one in figures:
        scan = _figures("scan", f"{one.backend} count(*)", one.count, one.scan_s)
        made = _figures("report", one.backend, one.count, one.report_s)
        out.figures += [scan, made]
        out.comparisons.append(
            Comparison(
                f"{one.backend}: report seconds ÷ plain scan seconds",
                ratio(one.report_s, one.scan_s),
                "×",
            )
        )
        out.notes.append(
            f"{one.backend}: report {one.report_s:.2f} s, plain scan {one.scan_s:.2f} s,"
            f" seeding {one.seed_s:.0f} s ({one.payments:,} payments);"
            f" page {one.html_bytes:,} bytes"
        )
        if one.count >= report_bench.DEFAULT_COUNT:
            out.checks.append(
                Check(
                    f"{one.backend}: {one.count:,} records reported within"
                    f" {REPORT_SECONDS_TARGET:g} s",
                    one.report_s < REPORT_SECONDS_TARGET,
                    f"{one.report_s:.2f} s",
                )
            )
    out.notes += notes
    out.notes.append(
        "scan = SELECT count(*), sum(length(detail)) over the quarter's rows; report = every"
        " GROUP BY query plus rendering the HTML page, the XLSX workbook and the CSV files"
    )
    return out
