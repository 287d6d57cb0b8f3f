"""``python -m bench`` (``make bench``): start the servers, run the scenarios, print the figures.

    python -m bench                    the full run (about four minutes, plus two to four for
                                       the report's 1,000,000 seeded audit records per store)
    python -m bench --reconcile        … plus reconciling 1,000,000 rows per store (minutes)
    python -m bench --report-count 100000   the quarterly report over fewer audit records
    python -m bench --quick            a tiny bounded run of every scenario (the smoke test)
    python -m bench --scenario business --duration 5
    python -m bench --scenario callbacks --callback-duplicates 0.1
    python -m bench --scenario compare --compare-source /tmp/before --compare-rate 380

PostgreSQL (callbacks, reconciliation) is ``LIENTHONG_BENCH_POSTGRES_DSN``
(default ``postgresql://postgres@127.0.0.1:5432/test``); unreachable, it is
skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.figures import Check
from bench.processes import CpuPlan
from bench.reconcile import DEFAULT_COUNT, POSTGRES_DSN_ENV
from bench.report import render, write_json
from bench.scenarios import SCENARIOS, ScenarioReport
from bench.settings import BenchSettings
from bench.stack import BenchStack


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not key.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def parse_settings(argv: Sequence[str] | None) -> BenchSettings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny bounded run (smoke test)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--duration", type=float, help="seconds per measured run")
    parser.add_argument("--workers", type=int, help="concurrent callers at saturation")
    parser.add_argument("--max-requests", type=int, help="requests per run at most")
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the gateway's logging level (default INFO, the production one)",
    )
    parser.add_argument("--output-dir", type=Path, help="where bench-<timestamp>.json goes")
    parser.add_argument(
        "--reconcile",
        type=int,
        nargs="?",
        const=DEFAULT_COUNT,
        metavar="ROWS",
        help=f"also reconcile ROWS rows per store (default {DEFAULT_COUNT:,})",
    )
    parser.add_argument(
        "--report-count",
        type=int,
        metavar="ROWS",
        help="report: audit records seeded per store (default 1,000,000)",
    )
    parser.add_argument(
        "--callback-duplicates",
        type=float,
        metavar="SHARE",
        help="share of payment callbacks that are redeliveries (0 to <1)",
    )
    parser.add_argument("--audit-rounds", type=int, help="rounds of audit on/off runs")
    parser.add_argument(
        "--no-postgres", action="store_true", help="callbacks and reconciliation on SQLite only"
    )
    parser.add_argument(
        "--compare-source",
        type=Path,
        metavar="PATH",
        help="compare: gateway B runs the code of this checkout",
    )
    parser.add_argument(
        "--compare-env",
        action="append",
        type=_env_pair,
        metavar="KEY=VALUE",
        help="compare: an environment override for gateway B (repeatable)",
    )
    parser.add_argument(
        "--compare-rate",
        type=float,
        metavar="PER_SECOND",
        help="compare: fixed-rate runs (default: saturation)",
    )
    parser.add_argument("--compare-rounds", type=int, help="compare: runs per side")
    args = parser.parse_args(argv)
    scenarios: tuple[str, ...] | None = tuple(args.scenario) if args.scenario else None
    if args.reconcile is not None and scenarios is None:
        base = BenchSettings.quick() if args.quick else BenchSettings()
        scenarios = (*(s for s in base.scenarios if s != "reconcile"), "reconcile")
    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "scenarios": scenarios,
            "reconcile_count": args.reconcile,
            "report_count": args.report_count,
            "callback_duplicate_share": args.callback_duplicates,
            "audit_rounds": args.audit_rounds,
            "stores": ("sqlite",) if args.no_postgres else None,
            "postgres_dsn": os.environ.get(POSTGRES_DSN_ENV),
            "duration": args.duration,
            "workers": args.workers,
            "max_requests": args.max_requests,
            "gateway_log_level": args.log_level,
            "output_dir": args.output_dir,
            "compare_source": args.compare_source,
            "compare_env": dict(args.compare_env) if args.compare_env else None,
            "compare_rate": args.compare_rate,
            "compare_rounds": args.compare_rounds,
        }.items()
        if value is not None
    }
    if args.quick:
        return BenchSettings.quick(**overrides)
    return BenchSettings.model_validate(overrides)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv)
    cpus = CpuPlan.detect()
    header = [
        f"lienthong bench: {os.cpu_count()} CPUs; {cpus.describe()}",
        f"saturation = closed loop, {settings.workers} workers, up to {settings.duration:g} s or "
        f"{settings.max_requests} requests; gateway logging at {settings.gateway_log_level}",
        "latency = send to answer, at the load generator; server CPU = utime+stime from"
        " /proc/<pid>/stat over the measured phase, divided by the answered requests",
        "fixed-rate runs: requests started on schedule at "
        f"{settings.half_saturation:.0%} of the gateway's saturation rate",
    ]
    print(header[0], file=sys.stderr, flush=True)
    reports: list[ScenarioReport] = []
    with BenchStack(settings, cpus) as stack:
        if stack.gateway_error:
            header.append(f"GATEWAY DID NOT START (baselines only):\n{stack.gateway_error}")
        for name in settings.scenarios:
            print(f"running {name} …", file=sys.stderr, end=" ", flush=True)
            began = time.monotonic()
            reports.append(run_scenario(name, stack))
            print(f"{time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    print(render(reports, header))
    path = write_json(
        reports,
        settings.output_dir,
        {
            "cpus": cpus.describe(),
            "settings": settings.model_dump(mode="json"),
            "gateway_error": stack.gateway_error,
        },
    )
    print(f"figures written to {path}")
    failed = [c.label for r in reports for c in r.checks if not c.passed]
    if failed:
        print("FAILED CHECKS:\n  " + "\n  ".join(failed))
    return 1 if failed else 0


def run_scenario(name: str, stack: BenchStack) -> ScenarioReport:
    """Run one scenario; one that fails gives a report with a failed check (the run goes on)."""
    try:
        return SCENARIOS[name](stack)
    except RuntimeError as exc:  # a server, the load generator or a child process failed
        report = ScenarioReport(name, f"{name}: FAILED")
        report.checks.append(Check(f"{name}: the scenario ran to its end", False, str(exc)))
        return report


if __name__ == "__main__":
    raise SystemExit(main())
