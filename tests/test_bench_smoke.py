"""Smoke test of the benchmark harness: a tiny bounded run produces figures (never timings)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.figures import Comparison, percentile
from bench.processes import cpu_seconds
from bench.targets import SignedRequests

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run ``python -m bench --quick`` once in its own process and load the JSON it wrote."""
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench", "--quick", "--output-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    files = list(out.glob("bench-*.json"))
    assert len(files) == 1
    document: dict[str, Any] = json.loads(files[0].read_text(encoding="utf-8"))
    document["_stdout"] = completed.stdout
    return document


def _figures(document: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    found = [s for s in document["scenarios"] if s["name"] == scenario]
    assert len(found) == 1
    figures: list[dict[str, Any]] = found[0]["figures"]
    return figures


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_run_measures_every_verification_target(quick_run: dict[str, Any]) -> None:
    """The verification scenario answers every request on direct, proxy and gateway targets."""
    assert quick_run["gateway_error"] is None
    figures = _figures(quick_run, "verification")
    runs = {(f["target"], f["mode"].split(" ")[0]) for f in figures}
    assert runs == {
        ("direct", "saturation"), ("proxy", "saturation"), ("gateway", "saturation"),
        ("gateway", "fixed"), ("direct", "fixed"),
    }
    for f in figures:
        assert f["requests"] > 0
        assert f["errors"] == {}
        assert f["per_second"] > 0
        assert f["p50_ms"] <= f["p99_ms"]
        assert "population" in f["cpu_ms_per_request"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_run_reports_ratios_and_targets(quick_run: dict[str, Any]) -> None:
    """The printed report carries the ratios with PASS/MISS beside the issue's two targets."""
    comparisons = {
        c["label"]: c for s in quick_run["scenarios"] for c in s["comparisons"]
    }
    cpu = comparisons["gateway CPU per verification / proxy CPU per request"]
    assert cpu["verdict"] in ("PASS", "MISS")
    assert math.isfinite(cpu["value"])
    added = next(c for label, c in comparisons.items() if label.startswith("p99 added"))
    assert added["verdict"] in ("PASS", "MISS")
    assert "throughput gateway cold / direct" in comparisons
    assert "target <= 1.5×" in quick_run["_stdout"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_run_measures_cold_and_warm_business_lookups(quick_run: dict[str, Any]) -> None:
    """The business scenario measures the sandbox directly and the gateway cold and warm."""
    figures = _figures(quick_run, "business")
    assert {(f["target"], f["mode"]) for f in figures} == {
        ("direct", "saturation"), ("gateway", "cold cache"), ("gateway", "warm cache"),
    }
    for f in figures:
        assert f["requests"] > 0
        assert f["errors"] == {}


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 are nearest-rank percentiles of the sorted latencies; none gives NaN."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert math.isnan(percentile([], 0.5))


def test_comparison_verdicts() -> None:
    """A figure at the limit passes ``at_most``; one above it, or NaN, misses."""
    assert Comparison.at_most("cpu", 1.5, 1.5, "×").verdict == "PASS"
    assert Comparison.at_most("cpu", 1.6, 1.5, "×").verdict == "MISS"
    assert Comparison.at_most("cpu", math.nan, 1.5, "×").verdict == "MISS"
    assert Comparison.below("p99", 5.0, 5.0, "ms").verdict == "MISS"


def test_signed_requests_carry_unique_nonces() -> None:
    """Pre-signed gateway requests each carry their own signature and a distinct nonce."""
    factory = SignedRequests(
        "POST", ("http://127.0.0.1:9/v1/citizens/verify",), (b"{}",), "motcua-demo", "s3cret"
    )
    requests = factory.prepare(50)
    inputs = {r.headers["Signature-Input"] for r in requests}
    assert len(requests) == 50
    assert len(inputs) == 50


def test_distinct_signed_requests_stop_at_the_last_url() -> None:
    """A cold-cache factory never repeats a URL: it gives fewer requests than asked for."""
    urls = tuple(f"http://127.0.0.1:9/v1/businesses/{i}" for i in range(5))
    factory = SignedRequests("GET", urls, (b"",), "motcua-demo", "s3cret", distinct=True,
                             content_type=None)
    prepared = factory.prepare(20)
    assert [r.url for r in prepared] == list(urls)


def test_cpu_seconds_reads_this_process() -> None:
    """CPU time read from /proc grows when this process burns CPU."""
    before = cpu_seconds(os.getpid())
    give_up = time.monotonic() + 20  # a "did not hang" bound: a clock tick is 10 ms
    while cpu_seconds(os.getpid()) <= before and time.monotonic() < give_up:
        sum(range(10_000))
    assert cpu_seconds(os.getpid()) > before
