"""Every figure of the quarterly report, in the HTML page, the XLSX workbook and the CSV files,
checked against a known quarter written through the real audit log and payments ledger (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import openpyxl
import pytest

from gateway.audit.log import AuditLog
from gateway.payments.ledger import PaymentLedger
from gateway.reports.command import ReportRefused, generate
from gateway.reports.period import Period
from gateway.store import Store
from tests.reports.quarter import Expected, write_quarter
from tests.support.clock import FakeClock

NOW = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)
NBSP = "\u00a0"
VERDICTS = ["match", "match_without_diacritics", "mismatch", "not_found", "rejected", "error"]
PAY = ["paid", "failed", "expired", "needs_review", "cancelled"]
SYSTEM_NAMES = {
    "business": "CSDL quốc gia về đăng ký doanh nghiệp",
    "dvcqg": "Nền tảng thanh toán DVCQG",
    "population": "CSDL quốc gia về dân cư",
    "vnpay": "VNPay",
}


def vi_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def vi_share(a: int, b: int) -> str:
    return "–" if b == 0 else f"{a / b * 100:.1f}".replace(".", ",") + f"{NBSP}%"


def vi_wait(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s}{NBSP}giây"
    if s < 3600:
        return f"{s // 60}{NBSP}phút"
    return f"{s // 3600}{NBSP}giờ {s % 3600 // 60}{NBSP}phút"


def blank(code: str) -> str:
    return code or "(không ghi)"


class _Tables(HTMLParser):
    """Rows of every ``<table id=…>`` as lists of cell texts, and the SVG marks."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.marks: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
            self.tables[str(self._table)] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td" and self._table:
            self._cell = []
        elif tag in ("rect", "circle", "script", "link", "img"):
            self.marks.append({"tag": tag, **a})

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def expected_rows(exp: Expected) -> dict[str, list[list[Any]]]:
    """Raw expected values per table (strings for text; ints; (a, b) for shares; seconds)."""
    rows: dict[str, list[list[Any]]] = {}
    ver = []
    total = dict.fromkeys(VERDICTS, 0)
    for (agency, procedure), c in sorted(exp.verifications.items()):
        n = sum(c.values())
        ver.append([blank(agency), blank(procedure), n, *(c[v] for v in VERDICTS), (c["match"], n)])
        for v in VERDICTS:
            total[v] += c[v]
    n = sum(total.values())
    ver.append(["Tổng cộng", "", n, *(total[v] for v in VERDICTS), (total["match"], n)])
    rows["verifications"] = ver
    kinds = {"citizens.lookup": "Công dân", "businesses.read": "Doanh nghiệp"}
    rows["lookups"] = [
        [
            kinds[op],
            blank(agency),
            blank(procedure),
            sum(c.values()),
            c["found"],
            c["not_found"],
            c["refused"],
            c["failed"],
        ]
        for (op, agency, procedure), c in sorted(exp.lookups.items())
    ]

    def pay_values(
        c: Any, key: tuple[str, ...] | None, waits: list[float], collected: int
    ) -> list[Any]:
        import statistics

        open_ = c["created"] - sum(c[s] for s in PAY)
        median = statistics.median(waits) if waits else None
        return [c["created"], *(c[s] for s in PAY), open_, collected, median]

    pay, all_waits, all_counts, all_collected = [], [], dict.fromkeys(["created", *PAY], 0), 0
    for key, c in sorted(exp.payments.items()):
        pay.append(
            [blank(key[0]), blank(key[1]), *pay_values(c, key, exp.waits[key], exp.collected[key])]
        )
        all_waits += exp.waits[key]
        all_collected += exp.collected[key]
        for s in all_counts:
            all_counts[s] += c[s]
    pay.append(["Tổng cộng", "", *pay_values(all_counts, None, all_waits, all_collected)])
    rows["payments"] = pay
    prov = []
    for provider, c in sorted(exp.providers.items()):
        key = (provider,)
        prov.append(
            [
                {"dvcqg": "Nền tảng thanh toán DVCQG", "vnpay": "VNPay"}[provider],
                *pay_values(c, key, exp.waits[key], exp.collected[key]),
            ]
        )
    prov.append(["Tổng cộng", *pay_values(all_counts, None, all_waits, all_collected)])
    rows["providers"] = prov
    avail = []
    for system in sorted({s for s, _ in exp.calls}):
        tc = ta = tm = 0
        for week in range(14):
            key = (system, week)
            c, a, m = exp.calls[key], exp.answered[key], len(exp.breaker_minutes.get(key, ()))
            avail.append([SYSTEM_NAMES[system], week, c, a, (a, c), m])
            tc, ta, tm = tc + c, ta + a, tm + m
        avail.append([SYSTEM_NAMES[system], "Tổng cộng", tc, ta, (ta, tc), tm])
    rows["availability"] = avail
    return rows


def as_html(value: Any, column: int, table: str) -> str:
    if isinstance(value, tuple):
        return vi_share(*value)
    if table in ("payments", "providers"):
        offset = 2 if table == "payments" else 1
        if column == offset + 7:
            return f"{vi_int(value)}{NBSP}₫"
        if column == offset + 8:
            return vi_wait(value)
    if isinstance(value, int) and not (table == "availability" and column == 1):
        return vi_int(value)
    if table == "availability" and column == 1 and isinstance(value, int):
        return WEEK_LABELS[value]
    return str(value)


WEEK_LABELS = [f"{p[0]:%d/%m}–{p[1]:%d/%m}" for p in Period.quarter("2026-Q4").weeks()]


@pytest.fixture
async def quarter(store: Store, audit_log: AuditLog, clock: FakeClock) -> Expected:
    ledger = PaymentLedger(store, clock)
    return await write_quarter(audit_log, ledger, clock)


async def test_html_shows_every_figure_of_the_known_quarter(
    store: Store, quarter: Expected
) -> None:
    """Each cell of each table of the page is what the written quarter holds."""
    report = await generate(store, Period.quarter("2026-Q4"), now=NOW)
    parsed = _Tables()
    parsed.feed(report.html)
    expected = expected_rows(quarter)
    assert len(expected["availability"]) == 4 * 15
    for name, rows in expected.items():
        want = [[as_html(v, i, name) for i, v in enumerate(r)] for r in rows]
        got = [r for r in parsed.tables[f"table-{name}"] if r]  # the header row has no <td>
        assert got == want, name
    # the breaker burst: 8 refusals over 3 distinct minutes, in the week of 12 November
    assert any(len(m) >= 3 for m in quarter.breaker_minutes.values())
    # self-contained: nothing fetched, nothing run
    assert not [m for m in parsed.marks if m["tag"] in ("script", "link", "img")]
    assert "http://" not in report.html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in report.html
    assert "Quý 4 năm 2026" in report.html


async def test_xlsx_and_csv_hold_the_same_figures(store: Store, quarter: Expected) -> None:
    """One sheet and one CSV per table, numbers as numbers, equal to the written quarter."""
    report = await generate(store, Period.quarter("2026-Q4"), now=NOW)
    book = openpyxl.load_workbook(io.BytesIO(report.xlsx))
    sheets = {
        "verifications": "Xác thực",
        "lookups": "Tra cứu",
        "payments": "Thanh toán",
        "providers": "Kênh thanh toán",
        "availability": "Hệ thống quốc gia",
    }
    assert book.sheetnames == list(sheets.values())
    files = report.files()
    for name, rows in expected_rows(quarter).items():
        sheet = [list(r) for r in book[sheets[name]].iter_rows(min_row=2, values_only=True)]
        text = files[f"report-2026-Q4-{name}.csv"].decode("utf-8-sig")
        csv_rows = list(csv.reader(io.StringIO(text)))[1:]
        assert len(sheet) == len(rows) == len(csv_rows), name
        for got, got_csv, want in zip(sheet, csv_rows, rows, strict=True):
            for i, (cell, csv_cell, value) in enumerate(zip(got, got_csv, want, strict=True)):
                if name == "availability" and i == 1 and isinstance(value, int):
                    value = WEEK_LABELS[value]
                if isinstance(value, tuple):
                    share = value[0] / value[1] if value[1] else None
                    assert cell == pytest.approx(share) if share is not None else cell is None
                    assert (
                        (csv_cell == "")
                        if share is None
                        else float(csv_cell) == pytest.approx(share)
                    )
                elif name in ("payments", "providers") and i == len(want) - 1:
                    assert cell == (None if value is None else pytest.approx(value / 60, abs=1e-3))
                    assert csv_cell == ("" if value is None else str(value))
                else:
                    assert cell == (value if value != "" else None), (name, i)
                    assert csv_cell == str(value), (name, i)


async def test_english_page_and_agency_filter(store: Store, quarter: Expected) -> None:
    """--lang en writes English with English separators; --agency keeps one agency's rows."""
    agency = "000.00.02.H13"
    report = await generate(store, Period.quarter("2026-Q4"), now=NOW, lang="en", agency=agency)
    parsed = _Tables()
    parsed.feed(report.html)
    assert "Citizen verifications" in report.html
    assert '<html lang="en">' in report.html
    ver = [r for r in parsed.tables["table-verifications"] if r]
    assert {r[0] for r in ver[:-1]} == {agency}
    want_total = sum(sum(c.values()) for (a, _), c in quarter.verifications.items() if a == agency)
    assert ver[-1][2] == f"{want_total:,}"
    pay = [r for r in parsed.tables["table-payments"] if r]
    assert {r[0] for r in pay[:-1]} == {agency}
    collected = sum(v for k, v in quarter.collected.items() if len(k) == 2 and k[0] == agency)
    assert pay[-1][9] == f"{collected:,}{NBSP}₫"


async def test_refuses_future_and_empty_periods(store: Store, audit_log: AuditLog) -> None:
    """A quarter that has not started, or one without any record, is refused with a reason."""
    with pytest.raises(ReportRefused, match="has not started"):
        await generate(store, Period.quarter("2027-Q2"), now=NOW)
    with pytest.raises(ReportRefused, match="nothing to report"):
        await generate(store, Period.quarter("2026-Q3"), now=NOW)
