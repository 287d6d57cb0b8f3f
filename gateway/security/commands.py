"""``lienthong security report --since 24h`` as a plain coroutine (the CLI only parses)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from gateway.audit.commands import parse_since
from gateway.security.report import render_security_report, security_report
from gateway.store import Clock, StoreConfig, open_store, utc_now


async def security_report_command(
    store_config: StoreConfig,
    since: str = "24h",
    *,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    clock: Clock = utc_now,
) -> int:
    """Print the report (text, or JSON with ``as_json``); exit status 0."""
    store = await open_store(store_config, clock=clock)
    try:
        report = await security_report(store, parse_since(since, clock()))
    finally:
        await store.close()
    out.write(json.dumps(report, indent=2) + "\n" if as_json else render_security_report(report))
    return 0
