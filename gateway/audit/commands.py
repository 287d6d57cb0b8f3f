"""The operator's audit commands (``lienthong audit verify|export|archive``), as plain coroutines.

Each opens the store, does one thing, prints a short result and returns the
process exit status; ``gateway/cli.py`` only parses arguments. Verify and export
only read the store (with the keys of ``[audit]``); archive appends its record to
the named instance's own chain.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from gateway.audit.archive import archive_instance
from gateway.audit.config import AuditConfig
from gateway.audit.export import export_audit_log, verify_audit_log
from gateway.audit.signing import AuditKeys
from gateway.store import Clock, StoreConfig, open_store, utc_now

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``24h`` / ``7d`` / ``30m`` before ``now``, or an ISO 8601 time (UTC when naive)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"not a time or a duration like 24h: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def audit_verify_command(
    store_config: StoreConfig,
    audit_config: AuditConfig,
    since: str | None = None,
    *,
    out: TextIO = sys.stdout,
    clock: Clock = utc_now,
) -> int:
    """Verify every chain; 0 when all is intact, 1 when a problem was found.

    A checkpoint signed by a key neither the signing key's nor one of
    ``previous_public_key_files`` is an ``UNVERIFIABLE`` line (exit 1, but not called
    tampering): the key it names is the one to add.

    Interruptions (crash points, a chain ending without a stop record) are printed as
    ``UNCLEAN`` lines with how much a checkpoint covered; they do not fail the check."""
    store = await open_store(store_config, clock=clock)
    try:
        report = await verify_audit_log(
            store,
            AuditKeys(audit_config).verification_keys,
            since=parse_since(since, clock()) if since else None,
            archive_dir=audit_config.archive_dir,
        )
    finally:
        await store.close()
    for problem in report.tampering:
        print(f"TAMPERED {problem}", file=out)
    for problem in report.unverifiable:
        print(f"UNVERIFIABLE {problem}", file=out)
    for interruption in report.interruptions:
        print(f"UNCLEAN {interruption}", file=out)
    if report.tampering:
        verdict = "NOT intact"
    elif report.unverifiable:
        verdict = f"NOT verified ({len(report.unverifiable)} checkpoint(s) signed by unknown keys)"
    else:
        verdict = "intact"
    print(
        f"{verdict}: {len(report.instances)} chain(s),"
        f" {report.records_checked} record(s), {report.checkpoints_checked} checkpoint(s)",
        file=out,
    )
    return 0 if report.ok else 1


async def audit_export_command(
    store_config: StoreConfig,
    audit_config: AuditConfig,
    destination: Path,
    since: str | None = None,
    until: str | None = None,
    *,
    clock: Clock = utc_now,
) -> int:
    """Write the period's records as JSON lines to ``destination`` (``-``: standard output)."""
    now = clock()
    start = parse_since(since, now) if since else None
    end = parse_since(until, now) if until else None
    store = await open_store(store_config, clock=clock)
    try:
        keys = AuditKeys(audit_config)
        if str(destination) == "-":
            count = await export_audit_log(store, keys, sys.stdout, since=start, until=end)
        else:
            with destination.open("w", encoding="utf-8") as out:
                count = await export_audit_log(store, keys, out, since=start, until=end)
    finally:
        await store.close()
    print(f"exported {count} record(s)", file=sys.stderr)
    return 0


async def audit_archive_command(
    store_config: StoreConfig,
    audit_config: AuditConfig,
    instance_id: str,
    *,
    clock: Clock = utc_now,
    out: TextIO = sys.stdout,
) -> int:
    """Archive ``instance_id``'s records older than ``retention_days`` (run it where the
    instance is stopped: its chain is appended to here; a running instance can call
    :func:`gateway.audit.archive.archive` with its own writer)."""
    store = await open_store(store_config, clock=clock)
    try:
        result = await archive_instance(
            store,
            audit_config,
            instance_id,
            clock() - timedelta(days=audit_config.retention_days),
            clock=clock,
        )
    finally:
        await store.close()
    if result is None:
        print("nothing to archive", file=out)
    else:
        print(
            f"archived seq {result.first_seq}..{result.last_seq} ({result.count} records)"
            f" to {result.file} sha256={result.sha256}",
            file=out,
        )
    return 0
