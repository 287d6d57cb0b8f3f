"""``lienthong reconcile --provider P --date D``: open the store and the provider, run, print.

The CLI wiring calls :func:`reconcile_command` (from settings) or, when it already
holds a provider, :func:`run_reconcile`. Exit status 0 when the run completed
(discrepancies are findings, not failures), 2 when it could not run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

import structlog

from adapters.errors import AdapterError
from adapters.payment.base import PaymentProvider
from gateway.payments import PaymentLedger
from gateway.payments.reconcile.engine import reconcile
from gateway.payments.reconcile.model import ReconcileReport
from gateway.payments.reconcile.providers import provider_from_settings, store_config_from_settings
from gateway.store import StoreConfig, StoreError, open_store

EXIT_COMPLETED = 0
EXIT_FAILED = 2
DEFAULT_OUT_DIR = Path("var/reconcile")
PROVIDER_NAMES = ("dvcqg", "vnpay")

_log = structlog.get_logger("payments.reconcile")


class TerminalProgress:
    """A one-line ``\\r`` progress bar with rows/s, redrawn at most every ``interval`` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        width: int = 30,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._width = width
        self._interval = interval
        self._clock = clock
        self._phase_started = clock()
        self._last_draw = float("-inf")
        self._phase: str | None = None

    def __call__(self, done: int, total: int | None) -> None:
        phase = "reading store" if total is None else "comparing"
        now = self._clock()
        if phase != self._phase:
            if self._phase is not None:  # the first phase started with the bar
                self._stream.write("\n")
                self._phase_started = now
            self._phase, self._last_draw = phase, float("-inf")
        if now - self._last_draw < self._interval:
            return
        self._last_draw = now
        elapsed = now - self._phase_started
        rate = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        if total:
            filled = min(self._width, self._width * done // total)
            bar = "#" * filled + "-" * (self._width - filled)
            line = f"\r{phase:<13} [{bar}] {done:,}/~{total:,} {rate}"
        else:
            line = f"\r{phase:<13} {done:,} rows {rate}"
        self._stream.write(line)
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._phase is not None:
            self._stream.write("\n")
            self._stream.flush()


async def run_reconcile(
    store_config: StoreConfig,
    provider: PaymentProvider,
    day: dt.date,
    out_dir: Path,
    progress_to_terminal: bool,
    *,
    stream: TextIO | None = None,
    fix: bool = True,
) -> ReconcileReport:
    """Open the store, reconcile ``provider`` for ``day``, print the summary to ``stream``.

    With ``progress_to_terminal`` a progress bar is drawn on ``stream`` (stdout by
    default); otherwise only the summary lines are printed. Errors propagate.
    """
    out = stream if stream is not None else sys.stdout
    bar = TerminalProgress(out) if progress_to_terminal else None
    store = await open_store(store_config)
    try:
        report = await reconcile(
            PaymentLedger(store, instance_id="reconcile"),
            provider,
            day,
            out_dir=out_dir,
            progress=bar,
            fix=fix,
            store=store,
        )
    finally:
        if bar is not None:
            bar.close()
        await store.close()
    for line in report.summary_lines():
        print(line, file=out)
    return report


def reconcile_command(
    settings: Any,
    provider_name: str,
    day: dt.date,
    out_dir: Path | None = None,
    *,
    stream: TextIO | None = None,
) -> int:
    """The CLI entry: build the store and provider from ``settings``, run, exit status."""
    out = stream if stream is not None else sys.stdout
    try:
        return asyncio.run(_command(settings, provider_name, day, out_dir or DEFAULT_OUT_DIR, out))
    except (AdapterError, StoreError, OSError, ValueError) as exc:
        _log.error("reconcile.failed", provider=provider_name, error=type(exc).__name__)
        print(f"reconcile {provider_name} {day.isoformat()} failed: {exc}", file=out)
        return EXIT_FAILED


async def _command(
    settings: Any, provider_name: str, day: dt.date, out_dir: Path, out: TextIO
) -> int:
    store_config = store_config_from_settings(settings)
    async with AsyncExitStack() as stack:
        provider = await stack.enter_async_context(provider_from_settings(settings, provider_name))
        await run_reconcile(store_config, provider, day, out_dir, out.isatty(), stream=out)
    return EXIT_COMPLETED
