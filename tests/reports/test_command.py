"""``lienthong report`` as an operator runs it (its own process): the files it writes, and the
one-line refusals (exit 2, no traceback) of a future period, an empty one and a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from gateway.audit.log import AuditLog
from gateway.payments.ledger import PaymentLedger
from gateway.store import Store, StoreConfig
from tests.reports.quarter import Expected, write_quarter
from tests.support.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def quarter(store: Store, audit_log: AuditLog, clock: FakeClock) -> Expected:
    return await write_quarter(audit_log, PaymentLedger(store, clock), clock)


def _report(store_config: StoreConfig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIENTHONG_STORE__URL": store_config.url}
    if store_config.schema_name:
        env["LIENTHONG_STORE__SCHEMA_NAME"] = store_config.schema_name
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "report", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_writes_html_xlsx_and_csv(
    store_config: StoreConfig, quarter: Expected, tmp_path: Path
) -> None:
    """--period writes the page, the workbook and one CSV per table; --lang en in English."""
    out = tmp_path / "out"
    done = _report(store_config, "--period", "2026-Q4", "--out", str(out))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["report-2026-Q4.html", "report-2026-Q4.xlsx"]
        + [
            f"report-2026-Q4-{t}.csv"
            for t in ("verifications", "lookups", "payments", "providers", "availability")
        ]
    )
    page = (out / "report-2026-Q4.html").read_text(encoding="utf-8")
    assert '<html lang="vi">' in page
    assert "Xác thực thông tin công dân" in page
    total = sum(sum(c.values()) for c in quarter.verifications.values())
    book = openpyxl.load_workbook(out / "report-2026-Q4.xlsx")
    assert list(book["Xác thực"].iter_rows(values_only=True))[-1][2] == total
    assert "Traceback" not in done.stderr

    done = _report(
        store_config,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--lang",
        "en",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    page = (out / "report-2026-10-01_2026-10-31.html").read_text(encoding="utf-8")
    assert "Citizen verifications" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2099-Q1"], "has not started yet"),
        (["--period", "2026-Q2"], "nothing to report"),
        (["--period", "2026-Q4", "--agency", "no-such-agency"], "nothing to report"),
        (["--period", "2026-Q5"], "is not a quarter like 2026-Q4"),
        (["--from", "2026-10-01"], "--from needs --to"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    store_config: StoreConfig, quarter: Expected, tmp_path: Path, args: list[str], message: str
) -> None:
    """Refused periods: exit 2, the reason on stderr, no traceback, no file."""
    done = _report(store_config, *args, "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
