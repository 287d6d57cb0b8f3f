"""The quarterly report of online services (issue 14): figures from the audit log and the
payments table, written as one self-contained HTML page, an XLSX workbook and CSV files.

:mod:`.figures` computes (SQL ``GROUP BY``), :mod:`.tables` shapes, :mod:`.html`,
:mod:`.svg` and :mod:`.xlsx` write; :mod:`.command` is ``lienthong report`` and
:mod:`.route` is ``GET /v1/reports/{period}``.
"""
