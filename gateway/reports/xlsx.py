"""The report's tables as a workbook (one sheet each) and as CSV files.

openpyxl rather than XlsxWriter: both write real XLSX with number formats, but
openpyxl also *reads* workbooks, so the tests check the very file the offices
get with the same library, and it is pure Python with one small dependency
(et-xmlfile). Cells hold numbers (amounts in dong, shares as fractions with a
percentage format, waits in minutes), not formatted text, so an office can
paste and sum them; Excel shows the separators of the reader's own locale.

The CSV files (one per table, ``report-<period>-<table>.csv``) are UTF-8 with a
byte-order mark, so that Excel opens Vietnamese text right, comma-separated,
with plain machine-readable values: integers, shares as fractions (``0.875``),
waits in seconds, text as shown in the page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from gateway.reports.tables import Table
from gateway.reports.text import Lang

_FORMATS = {"int": "#,##0", "dong": '#,##0 "₫"', "share": "0.0%", "seconds": "0.0"}


def _xlsx_value(kind: str, value: object) -> object:
    if value is None:
        return None
    if kind == "seconds":  # minutes in the workbook: people read waits in minutes
        return round(float(value) / 60, 4)  # type: ignore[arg-type]
    return value


def render_xlsx(tables: Sequence[Table], lang: Lang = "vi") -> bytes:
    """One sheet per table, a bold header row, totals in bold, frozen header."""
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEF3F8")
    minutes = "phút" if lang == "vi" else "min"
    for table in tables:
        sheet = book.create_sheet(table.sheet[:31])
        headers = [
            f"{c.title} ({minutes})" if c.kind == "seconds" else c.title for c in table.columns
        ]
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font, cell.fill = bold, fill
        for i, row in enumerate(table.rows):
            sheet.append([_xlsx_value(c.kind, v) for c, v in zip(table.columns, row, strict=True)])
            for j, c in enumerate(table.columns, start=1):
                target = sheet.cell(row=i + 2, column=j)
                if c.kind in _FORMATS:
                    target.number_format = _FORMATS[c.kind]
                if i in table.total_rows:
                    target.font = bold
        for j in range(1, len(table.columns) + 1):
            width = max([len(headers[j - 1])] + [len(str(r[j - 1] or "")) for r in table.rows])
            sheet.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 40)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render_csv(table: Table) -> bytes:
    """One table as CSV (header of machine names, then plain values)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return text.getvalue().encode("utf-8-sig")
