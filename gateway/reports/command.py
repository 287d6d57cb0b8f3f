"""``lienthong report``: the quarterly report of online services, as files.

    lienthong report --period 2026-Q4 [--agency CODE] [--lang vi|en] [--out DIR]
    lienthong report --from 2026-10-01 --to 2026-10-31

writes ``report-<period>.html``, ``report-<period>.xlsx`` and one
``report-<period>-<table>.csv`` per table into ``--out`` (default
``var/reports``). A period that has not started, or holds no audited exchange
and no payment, is refused with one line on stderr and exit status 2. On a
terminal, a progress bar on stderr follows the queries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from gateway.errors import CommandRefused
from gateway.reports.figures import NoData, ReportFigures, compute
from gateway.reports.html import render_html
from gateway.reports.period import Period, PeriodError
from gateway.reports.tables import build_tables
from gateway.reports.text import LANGS, Lang
from gateway.reports.xlsx import render_csv, render_xlsx
from gateway.store import Store, utc_now

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportRefused(CommandRefused, ValueError):
    """A period the report will not cover (future, or without data): the message says why."""


@dataclass
class Report:
    """One generated report: its figures and its files' contents."""

    figures: ReportFigures
    lang: Lang
    html: str
    xlsx: bytes
    csv: dict[str, bytes] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        """File name → content."""
        stem = f"report-{self.figures.period.name}"
        out = {f"{stem}.html": self.html.encode("utf-8"), f"{stem}.xlsx": self.xlsx}
        out.update({f"{stem}-{name}.csv": data for name, data in self.csv.items()})
        return out


def check_period(period: Period, now: datetime) -> None:
    """Refuse a period that has not started yet."""
    if period.is_future(now):
        raise ReportRefused(
            f"the period {period.name} has not started yet (it starts {period.first.isoformat()})"
        )


async def generate(
    store: Store,
    period: Period,
    *,
    lang: Lang = "vi",
    agency: str | None = None,
    now: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Compute and render the report of ``period``; raises :class:`ReportRefused`."""
    now = now or utc_now()
    check_period(period, now)
    try:
        figures = await compute(store, period, now, agency=agency, progress=progress)
    except NoData:
        whose = f" for agency {agency}" if agency else ""
        raise ReportRefused(
            f"no audited exchange and no payment in {period.name}{whose}: nothing to report"
        ) from None
    tables = build_tables(figures, lang)
    return Report(
        figures=figures,
        lang=lang,
        html=render_html(figures, lang),
        xlsx=render_xlsx(tables, lang),
        csv={t.name: render_csv(t) for t in tables},
    )


class ProgressBar:
    """``[########------] 3/5 payments`` redrawn on one line of a terminal; silent elsewhere."""

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._tty = stream.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._tty:
            return
        filled = self._width * done // max(total, 1)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r[{bar}] {done}/{total} {stage:<10}")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-10-01") from None


def _quarter(text: str) -> Period:
    try:
        return Period.quarter(text)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_report_parser(
    sub: Any, add_config: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """The ``report`` subcommand, on the CLI's subparsers."""
    report: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="the quarterly report of online services (HTML, XLSX, CSV)",
        description=__doc__.split("\n")[0],
    )
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("--period", type=_quarter, help="a quarter, e.g. 2026-Q4")
    which.add_argument("--from", dest="first", type=_day, help="first day (with --to)")
    report.add_argument("--to", dest="last", type=_day, help="last day, included")
    report.add_argument("--agency", default=None, help="only this agency's figures")
    report.add_argument("--lang", choices=LANGS, default="vi", help="vi (default) or en")
    report.add_argument("--out", type=Path, default=Path("var/reports"), help="directory")
    add_config(report)
    return report


def _period_of(args: argparse.Namespace) -> Period:
    if args.period is not None:
        if args.last is not None:
            raise PeriodError("--to goes with --from, not with --period")
        period: Period = args.period
        return period
    if args.last is None:
        raise PeriodError("--from needs --to")
    return Period.span(args.first, args.last)


async def _run(settings: Any, args: argparse.Namespace, period: Period) -> Report:
    from gateway.store import StoreConfig, open_store

    section = settings.store
    store = await open_store(
        StoreConfig(url=section.url, pool_size=1, schema_name=section.schema_name)
    )
    try:
        return await generate(
            store,
            period,
            lang=args.lang,
            agency=args.agency,
            progress=ProgressBar(sys.stderr),
        )
    finally:
        await store.close()


def report_command(settings: Any, args: argparse.Namespace) -> int:
    """Run ``lienthong report``: 0 written, 2 refused (one line on stderr), 1 failed."""
    from gateway.logging import mask_text

    try:
        period = _period_of(args)
        report = asyncio.run(_run(settings, args, period))
    except (PeriodError, ReportRefused) as exc:
        print(f"lienthong report: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the operator, never a traceback
        reason = mask_text(str(exc)) or type(exc).__name__
        print(f"lienthong report: failed: {reason}", file=sys.stderr)
        return 1
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in report.files().items():
        (out / name).write_bytes(data)
        written.append(name)
    print(f"{out}: {', '.join(written)}")
    return 0
