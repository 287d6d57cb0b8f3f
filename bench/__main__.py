"""``python -m bench`` (``make bench``): start the servers, run the scenarios, print the figures.

    python -m bench                    the full run (about two to three minutes)
    python -m bench --quick            a tiny bounded run (the smoke test uses it)
    python -m bench --scenario business --duration 5
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.processes import CpuPlan
from bench.report import render, write_json
from bench.scenarios import SCENARIOS, ScenarioReport
from bench.settings import BenchSettings
from bench.stack import BenchStack


def parse_settings(argv: Sequence[str] | None) -> BenchSettings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny bounded run (smoke test)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--duration", type=float, help="seconds per measured run")
    parser.add_argument("--workers", type=int, help="concurrent callers at saturation")
    parser.add_argument("--max-requests", type=int, help="requests per run at most")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="the gateway's logging level (default INFO, the production one)")
    parser.add_argument("--output-dir", type=Path, help="where bench-<timestamp>.json goes")
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "scenarios": tuple(args.scenario) if args.scenario else None,
            "duration": args.duration,
            "workers": args.workers,
            "max_requests": args.max_requests,
            "gateway_log_level": args.log_level,
            "output_dir": args.output_dir,
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
            print(f"running {name} …", file=sys.stderr, flush=True)
            reports.append(SCENARIOS[name](stack))
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
