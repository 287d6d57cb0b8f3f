"""The report's tables, one shape for every output: the HTML page, the XLSX sheets, the CSV files.

A :class:`Table` holds raw values (ints, shares as fractions, seconds, text);
each writer formats them its own way (the page as Vietnamese writes numbers,
the workbook with number formats, the CSV as plain machine-readable values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.reports.figures import (
    PAYMENT_STATUSES,
    VERDICTS,
    PaymentRow,
    ReportFigures,
    totals,
    verification_totals,
)
from gateway.reports.text import Lang, code_or_blank, short_day, word

Kind = Literal["text", "int", "dong", "share", "seconds"]
Value = str | int | float | None


@dataclass(frozen=True)
class Column:
    key: str  # machine name (CSV header)
    kind: Kind
    title: str


@dataclass
class Table:
    """One table: ``name`` is its file/sheet stem, ``title`` its heading."""

    name: str
    title: str
    sheet: str
    columns: list[Column]
    rows: list[list[Value]] = field(default_factory=list)
    #: Indexes of rows that are totals (bold on the page and in the workbook).
    total_rows: set[int] = field(default_factory=set)

    def add_total(self, row: list[Value]) -> None:
        self.total_rows.add(len(self.rows))
        self.rows.append(row)


def _table(name: str, lang: Lang, columns: list[Column]) -> Table:
    """The table ``name``, titled by the word ``name``, on the sheet named ``sheet_<name>``."""
    return Table(name, word(name, lang), word(f"sheet_{name}", lang), columns)


def _columns(kind: Kind, lang: Lang, *keys: str) -> list[Column]:
    """Columns of one kind, each titled by the word of its key."""
    return [Column(key, kind, word(key, lang)) for key in keys]


_PAY_STATUS_WORD = {"failed": "pay_failed"}


def _payment_columns(lang: Lang) -> list[Column]:
    return [
        *_columns("int", lang, "created"),
        *(Column(s, "int", word(_PAY_STATUS_WORD.get(s, s), lang)) for s in PAYMENT_STATUSES),
        *_columns("int", lang, "open"),
        Column("collected_vnd", "dong", word("collected", lang)),
        Column("median_seconds_to_pay", "seconds", word("median_wait", lang)),
    ]


def _payment_values(row: PaymentRow) -> list[Value]:
    return [
        row.created,
        *(row.statuses[s] for s in PAYMENT_STATUSES),
        row.still_open,
        row.collected,
        row.median_wait_s,
    ]


def build_tables(fig: ReportFigures, lang: Lang) -> list[Table]:
    """The five tables of the report, in page order."""

    def w(key: str) -> str:
        return word(key, lang)

    def blank(code: str) -> str:
        return code_or_blank(code, lang)

    by_group = _columns("text", lang, "agency", "procedure")

    ver = _table(
        "verifications",
        lang,
        [
            *by_group,
            *_columns("int", lang, "count", *VERDICTS),
            Column("share_without_paper", "share", w("without_paper")),
        ],
    )
    for v in fig.verifications:
        values: list[Value] = [blank(v.agency), blank(v.procedure), v.total]
        ver.rows.append([*values, *(v.verdicts[k] for k in VERDICTS), v.match_share])
    if fig.verifications:
        t = verification_totals(fig.verifications)
        ver.add_total([w("total"), "", t.total, *(t.verdicts[k] for k in VERDICTS), t.match_share])

    look = _table(
        "lookups",
        lang,
        [
            *_columns("text", lang, "kind"),
            *by_group,
            *_columns("int", lang, "count", "found", "not_found", "refused", "failed"),
        ],
    )
    for lk in fig.lookups:
        counts = [lk.total, lk.found, lk.not_found, lk.refused, lk.failed]
        look.rows.append([w(lk.operation), blank(lk.agency), blank(lk.procedure), *counts])

    pay = _table("payments", lang, [*by_group, *_payment_columns(lang)])
    for p in fig.payments:
        pay.rows.append([blank(p.key[0]), blank(p.key[1]), *_payment_values(p)])
    if fig.payments:
        pay.add_total([w("total"), "", *_payment_values(totals(fig.payments))])

    prov = _table("providers", lang, [*_columns("text", lang, "provider"), *_payment_columns(lang)])
    for p in fig.providers:
        prov.rows.append([w(p.key[0]), *_payment_values(p)])
    if fig.providers:
        prov.add_total([w("total"), *_payment_values(totals(fig.providers))])

    avail = _table(
        "availability",
        lang,
        [
            *_columns("text", lang, "system", "week"),
            *_columns("int", lang, "calls", "answered"),
            Column("share_answered", "share", w("share_answered")),
            Column("breaker_open_minutes", "int", w("breaker_minutes")),
        ],
    )
    for s in fig.availability:
        for wk in s.weeks:
            week = f"{short_day(wk.first)}–{short_day(wk.last)}"
            avail.rows.append(
                [w(s.system), week, wk.calls, wk.answered, wk.share, wk.breaker_minutes]
            )
        avail.add_total([w(s.system), w("total"), s.calls, s.answered, s.share, s.breaker_minutes])
    return [ver, look, pay, prov, avail]
