"""The report as one self-contained HTML page: inline CSS and SVG, nothing fetched.

No script, no font file, no image file: the page opens the same from a USB
stick, an e-mail attachment or ``GET /v1/reports/{period}``. Fonts are the
reader's own sans-serif (every office system has one with Vietnamese letters).
The print stylesheet sets A4 portrait with 14 mm margins, keeps each chart and
table heading on one page, repeats table headers across pages and prints the
colours as they are.
"""

from __future__ import annotations

from html import escape

from adapters.aliases import VIETNAM_TZ
from gateway.reports.figures import PAYMENT_STATUSES, VERDICTS, ReportFigures
from gateway.reports.svg import availability_chart, stacked_bars
from gateway.reports.tables import Table, Value, build_tables
from gateway.reports.text import (
    Lang,
    code_or_blank,
    day,
    dong,
    duration,
    integer,
    percent,
    word,
)

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "DejaVu Sans", "Segoe UI", Arial, sans-serif;
  color: #1a1a1a; margin: 0 auto; max-width: 980px; padding: 24px; line-height: 1.4;
  font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 2px solid #0072B2; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
.meta { color: #444; margin: 2px 0; }
.note { color: #444; font-size: 12px; margin: 4px 0 10px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 12px; }
th, td { border: 1px solid #bbb; padding: 3px 6px; vertical-align: top; }
th { background: #eef3f8; text-align: left; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 700; background: #f6f6f6; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0 10px; }
.figure { break-inside: avoid; page-break-inside: avoid; }
footer { margin-top: 28px; color: #555; font-size: 11px; }
@page { size: A4 portrait; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def cell(kind: str, value: Value, lang: Lang) -> str:
    """One value as the page shows it."""
    if value is None:
        return "–"
    if kind == "int":
        return integer(int(value), lang)
    if kind == "dong":
        return dong(int(value), lang)
    if kind == "share":
        return percent(float(value), lang)
    if kind == "seconds":
        return duration(float(value), lang)
    return str(value)


def _table(table: Table, lang: Lang) -> str:
    head = "".join(
        f'<th scope="col" data-col="{c.key}">{escape(c.title)}</th>' for c in table.columns
    )
    body: list[str] = []
    for i, row in enumerate(table.rows):
        cells = "".join(
            f'<td class="{"text" if c.kind == "text" else "num"}" data-col="{c.key}">'
            f"{escape(cell(c.kind, v, lang))}</td>"
            for c, v in zip(table.columns, row, strict=True)
        )
        cls = ' class="total"' if i in table.total_rows else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    if not body:
        return f'<p class="empty" id="table-{table.name}">{escape(word("none", lang))}</p>'
    return (
        f'<table id="table-{table.name}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _period_line(fig: ReportFigures, lang: Lang) -> str:
    p = fig.period
    span = word("from_to", lang).format(a=day(p.first, lang), b=day(p.last, lang))
    if p.name.count("-Q") == 1:
        y, q = p.name.split("-Q")
        text = f"{word('quarter', lang).format(q=q, y=y)} ({span})"
    else:
        text = span
    if not fig.complete:
        local = fig.generated_at.astimezone(VIETNAM_TZ)
        text += " " + word("to_date", lang).format(d=day(local.date(), lang))
    return text


def render_html(fig: ReportFigures, lang: Lang = "vi") -> str:
    """The whole page."""

    def w(key: str) -> str:
        return word(key, lang)

    tables = {t.name: t for t in build_tables(fig, lang)}
    generated = fig.generated_at.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M")
    agency = fig.agency if fig.agency else w("all_agencies")

    def label(agency: str, procedure: str) -> str:
        return f"{code_or_blank(agency, lang)} · {code_or_blank(procedure, lang)}"

    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(w('title'))} – {escape(fig.period.name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{escape(w('title'))}</h1>",
        f'<p class="meta" id="period">{escape(w("period"))}: {escape(_period_line(fig, lang))}</p>',
        f'<p class="meta">{escape(w("agency_filter"))}: {escape(agency)}</p>',
        f'<p class="meta">{escape(w("generated"))}: {escape(generated)} (ICT)</p></header>',
    ]
    # verifications
    parts.append(f'<section id="verifications"><h2>{escape(w("verifications"))}</h2>')
    parts.append(f'<p class="note">{escape(w("verifications_note"))}</p>')
    if fig.verifications:
        rows = [
            (label(v.agency, v.procedure), [v.verdicts[k] for k in VERDICTS])
            for v in fig.verifications
        ]
        chart = stacked_bars(
            rows,
            VERDICTS,
            [w(k) for k in VERDICTS],
            chart_id="chart-verdicts",
            title=w("verdicts_chart"),
            lang=lang,
        )
        parts.append(f'<div class="figure">{chart}</div>')
    parts.append(_table(tables["verifications"], lang) + "</section>")
    # lookups
    parts.append(f'<section id="lookups"><h2>{escape(w("lookups"))}</h2>')
    parts.append(f'<p class="note">{escape(w("lookups_note"))}</p>')
    parts.append(_table(tables["lookups"], lang) + "</section>")
    # payments
    parts.append(f'<section id="payments"><h2>{escape(w("payments"))}</h2>')
    parts.append(f'<p class="note">{escape(w("payments_note"))}</p>')
    if fig.payments:
        keys = (*PAYMENT_STATUSES, "open")
        words = [w("pay_failed" if k == "failed" else k) for k in keys]
        rows = [
            (label(*p.key), [*(p.statuses[s] for s in PAYMENT_STATUSES), p.still_open])
            for p in fig.payments
        ]
        chart = stacked_bars(
            rows, keys, words, chart_id="chart-payments", title=w("payments_chart"), lang=lang
        )
        parts.append(f'<div class="figure">{chart}</div>')
    parts.append(_table(tables["payments"], lang))
    parts.append(f"<h3>{escape(w('providers'))}</h3>")
    parts.append(_table(tables["providers"], lang) + "</section>")
    # availability
    parts.append(f'<section id="availability"><h2>{escape(w("availability"))}</h2>')
    parts.append(f'<p class="note">{escape(w("availability_note"))}</p>')
    for s in fig.availability:
        summary = (
            f"{w('share_answered')}: {percent(s.share, lang)} · {w('calls')}: "
            f"{integer(s.calls, lang)} · {w('breaker_minutes')}: {integer(s.breaker_minutes, lang)}"
        )
        parts.append(
            f'<div class="figure"><h3>{escape(w(s.system))}</h3>'
            f'<p class="note">{escape(summary)}</p>'
            f"{availability_chart(s, chart_id=f'chart-availability-{s.system}', lang=lang)}</div>"
        )
    parts.append(_table(tables["availability"], lang) + "</section>")
    parts.append(f"<footer>{escape(w('source'))}</footer></body></html>")
    return "".join(parts)
