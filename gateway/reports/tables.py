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


_PAY_STATUS_WORD = {"failed": "pay_failed"}


def _payment_columns(lang: Lang) -> list[Column]:
    cols = [Column("created", "int", word("created", lang))]
    cols += [Column(s, "int", word(_PAY_STATUS_WORD.get(s, s), lang)) for s in PAYMENT_STATUSES]
    return [
        *cols,
        Column("open", "int", word("open", lang)),
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

    ver = Table(
        "verifications",
        w("verifications"),
        w("sheet_verifications"),
        [
            Column("agency", "text", w("agency")),
            Column("procedure", "text", w("procedure")),
            Column("count", "int", w("count")),
            *(Column(v, "int", w(v)) for v in VERDICTS),
            Column("share_without_paper", "share", w("without_paper")),
        ],
    )
    for v in fig.verifications:
        values: list[Value] = [blank(v.agency), blank(v.procedure), v.total]
        ver.rows.append([*values, *(v.verdicts[k] for k in VERDICTS), v.match_share])
    if fig.verifications:
        t = verification_totals(fig.verifications)
        ver.total_rows.add(len(ver.rows))
        ver.rows.append(
            [w("total"), "", t.total, *(t.verdicts[k] for k in VERDICTS), t.match_share]
        )

    look = Table(
        "lookups",
        w("lookups"),
        w("sheet_lookups"),
        [
            Column("kind", "text", w("kind")),
            Column("agency", "text", w("agency")),
            Column("procedure", "text", w("procedure")),
            Column("count", "int", w("count")),
            Column("found", "int", w("found")),
            Column("not_found", "int", w("not_found")),
            Column("refused", "int", w("refused")),
            Column("failed", "int", w("failed")),
        ],
    )
    for lk in fig.lookups:
        look.rows.append(
            [
                w(lk.operation),
                blank(lk.agency),
                blank(lk.procedure),
                lk.total,
                lk.found,
                lk.not_found,
                lk.refused,
                lk.failed,
            ]
        )

    pay = Table(
        "payments",
        w("payments"),
        w("sheet_payments"),
        [
            Column("agency", "text", w("agency")),
            Column("procedure", "text", w("procedure")),
            *_payment_columns(lang),
        ],
    )
    for p in fig.payments:
        pay.rows.append([blank(p.key[0]), blank(p.key[1]), *_payment_values(p)])
    if fig.payments:
        pay.total_rows.add(len(pay.rows))
        pay.rows.append([w("total"), "", *_payment_values(totals(fig.payments))])

    prov = Table(
        "providers",
        w("providers"),
        w("sheet_providers"),
        [Column("provider", "text", w("provider")), *_payment_columns(lang)],
    )
    for p in fig.providers:
        prov.rows.append([w(p.key[0]), *_payment_values(p)])
    if fig.providers:
        prov.total_rows.add(len(prov.rows))
        prov.rows.append([w("total"), *_payment_values(totals(fig.providers))])

    avail = Table(
        "availability",
        w("availability"),
        w("sheet_availability"),
        [
            Column("system", "text", w("system")),
            Column("week", "text", w("week")),
            Column("calls", "int", w("calls")),
            Column("answered", "int", w("answered")),
            Column("share_answered", "share", w("share_answered")),
            Column("breaker_open_minutes", "int", w("breaker_minutes")),
        ],
    )
    for s in fig.availability:
        for wk in s.weeks:
            avail.rows.append(
                [
                    w(s.system),
                    f"{short_day(wk.first)}–{short_day(wk.last)}",
                    wk.calls,
                    wk.answered,
                    wk.share,
                    wk.breaker_minutes,
                ]
            )
        avail.total_rows.add(len(avail.rows))
        avail.rows.append(
            [w(s.system), w("total"), s.calls, s.answered, s.share, s.breaker_minutes]
        )
    return [ver, look, pay, prov, avail]
