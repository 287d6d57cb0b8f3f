"""Printing the figures as a table with ratios and PASS/MISS, and writing the JSON record."""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.figures import Check, Comparison, Figures
from bench.scenario_kit import ScenarioReport


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _cpu(figures: Figures) -> str:
    return "  ".join(f"{name} {_num(ms, 3)}" for name, ms in figures.cpu_ms_per_request.items())


def _first_log(figures: Figures) -> float:
    """Log bytes per request of the target's own server (the first one charged)."""
    return next(iter(figures.log_bytes_per_request.values()), math.nan)


def figures_table(figures: Sequence[Figures], unit: str = "req/s") -> str:
    """One line per run: target, mode, req/s, p50, p99, errors, server CPU ms per request."""
    header = (
        f"{'target':<9} {'mode':<14} {unit:>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ok':>7} {'errors':>6} {'log B/req':>9}  server CPU ms/request"
    )
    lines = [header, "-" * len(header)]
    for f in figures:
        lines.append(
            f"{f.target:<9} {f.mode:<14} {_num(f.per_second, 0):>9} {_num(f.p50_ms):>8} "
            f"{_num(f.p99_ms):>8} {f.requests:>7} {sum(f.errors.values()):>6} "
            f"{_num(_first_log(f), 0):>9}  {_cpu(f)}"
        )
    return "\n".join(lines)


def comparisons_table(comparisons: Sequence[Comparison]) -> str:
    lines = []
    for c in comparisons:
        target = f"  target {c.target}: {c.verdict}" if c.verdict else ""
        lines.append(f"  {c.label:<58} {_num(c.value):>8} {c.unit}{target}")
    return "\n".join(lines)


def checks_list(checks: Sequence[Check]) -> str:
    """One line per correctness check: PASS/FAIL, what was checked, what was found."""
    lines = []
    for c in checks:
        detail = f" ({c.detail})" if c.detail else ""
        lines.append(f"  check {'PASS' if c.passed else 'FAIL'}: {c.label}{detail}")
    return "\n".join(lines)


def render(reports: Sequence[ScenarioReport], header: Sequence[str]) -> str:
    out = [*header, ""]
    for report in reports:
        out += [f"== {report.title}", figures_table(report.figures, report.unit), ""]
        if report.comparisons:
            out += [comparisons_table(report.comparisons), ""]
        if report.checks:
            out += [checks_list(report.checks), ""]
        for table in report.tables:
            out += [*table, ""]
        for f in report.figures:
            if f.errors:
                out.append(f"  ! {f.target} {f.mode}: errors {f.errors}")
            if f.max_start_lag_ms > 5:
                out.append(
                    f"  ! {f.target} {f.mode}: the load generator fell up to "
                    f"{f.max_start_lag_ms:.0f} ms behind schedule (p99 from schedule "
                    f"{_num(f.p99_from_schedule_ms)} ms)"
                )
        out += [f"  note: {n}" for n in report.notes]
        out.append("")
    return "\n".join(out)


def write_json(reports: Sequence[ScenarioReport], directory: Path, context: dict[str, Any]) -> Path:
    """``directory/bench-<timestamp>.json`` with every figure and comparison."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = directory / f"bench-{stamp}.json"
    document = {
        "created": stamp,
        "python": platform.python_version(),
        **context,
        "scenarios": [r.as_json() for r in reports],
    }
    path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=True) + "\n", encoding="utf-8"
    )
    return path
