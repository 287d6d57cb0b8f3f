"""A small-scale smoke of the report benchmark (the 1,000,000-record run is ``make bench``'s):
the seeded records are all counted by the report, and the figures come back (never timed)."""

from __future__ import annotations

import os

import pytest

from bench.report_bench import measure_stores


@pytest.mark.slow
def test_report_bench_counts_every_seeded_record() -> None:
    """measure_stores seeds, scans and reports; its own check (every record counted) holds."""
    stores = (
        ("sqlite", "postgres") if os.environ.get("LIENTHONG_TEST_POSTGRES_DSN") else ("sqlite",)
    )
    figures, notes = measure_stores(3_000, stores, os.environ.get("LIENTHONG_TEST_POSTGRES_DSN"))
    assert [f.backend for f in figures] == list(stores), notes
    for f in figures:
        assert f.count == 3_000
        assert f.payments == 150
        assert f.html_bytes > 10_000
        assert f.scan_s > 0
        assert f.report_s > 0
