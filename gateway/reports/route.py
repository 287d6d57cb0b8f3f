"""``GET /v1/reports/{period}``: the quarterly report for the city office's staff.

The same page and workbook as ``lienthong report``: HTML by default (or with
``Accept: text/html``), the XLSX workbook with ``Accept:`` its media type or
``?format=xlsx``. ``?lang=en`` and ``?agency=CODE`` as on the command line. The
operation is ``reports.read``, granted to no client by default, and not covered
by a client's ``"*"`` (see :data:`gateway.auth.clients.EXPLICIT_ONLY`). A period that
is not a quarter like ``2026-Q4`` → 422 naming ``period``; a quarter not yet
started or without data → 404 ``report-not-found``.
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import STORE
from gateway.config import Settings
from gateway.problems import NotFound, ValidationFailed
from gateway.reports.command import XLSX_TYPE, ReportRefused, generate
from gateway.reports.period import Period, PeriodError
from gateway.reports.text import LANGS, Lang
from gateway.wiring import Slice

routes = web.RouteTableDef()


def reports_slice(settings: Settings) -> Slice:
    """The report route (it reads the store only)."""
    return Slice("reports", routes=routes)


def _wants_xlsx(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("html", "xlsx"):
            raise ValidationFailed([{"field": "format", "message": "html or xlsx"}])
        return fmt == "xlsx"
    accept = request.headers.get("Accept", "")
    return XLSX_TYPE in accept and "text/html" not in accept


@routes.get("/v1/reports/{period}", name="reports.read")
async def read_report(request: web.Request) -> web.Response:
    """The report of one quarter, as a page or a workbook."""
    try:
        period = Period.quarter(request.match_info["period"])
    except PeriodError as exc:
        raise ValidationFailed([{"field": "period", "message": str(exc)}]) from None
    lang_text = request.query.get("lang", "vi")
    if lang_text not in LANGS:
        raise ValidationFailed([{"field": "lang", "message": "vi or en"}])
    lang: Lang = "en" if lang_text == "en" else "vi"
    agency = request.query.get("agency") or None
    xlsx = _wants_xlsx(request)
    try:
        report = await generate(request.app[STORE], period, lang=lang, agency=agency)
    except ReportRefused as exc:
        raise NotFound(str(exc), type_name="report-not-found") from None
    name = f"report-{period.name}"
    if xlsx:
        return web.Response(
            body=report.xlsx,
            content_type=XLSX_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="{name}.xlsx"',
                "Cache-Control": "private, no-store",
            },
        )
    return web.Response(
        text=report.html,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store"},
    )
