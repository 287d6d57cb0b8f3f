"""``lienthong security report``: events and alerts since a time, by kind, client and address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store import Store, to_us


async def _grouped(store: Store, table: str, column: str, since_us: int) -> dict[str, int]:
    rows = await store.fetch_all(
        f"SELECT {column} AS k, COUNT(*) AS n FROM {table}"  # noqa: S608 (fixed names)
        f" WHERE time_us >= $1 GROUP BY {column} ORDER BY n DESC, k",
        since_us,
    )
    return {("-" if r["k"] is None else str(r["k"])): int(r["n"]) for r in rows}


async def security_report(store: Store, since: datetime) -> dict[str, Any]:
    """Counts of security events (by kind, client, address) and alerts (by detector, subject)."""
    since_us = to_us(since)
    events_by_kind = await _grouped(store, "security_event_log", "kind", since_us)
    alerts_by_detector = await _grouped(store, "security_alerts", "detector", since_us)
    return {
        "since": since.isoformat(),
        "events": {
            "total": sum(events_by_kind.values()),
            "by_kind": events_by_kind,
            "by_client": await _grouped(store, "security_event_log", "client_id", since_us),
            "by_address": await _grouped(store, "security_event_log", "remote", since_us),
        },
        "alerts": {
            "total": sum(alerts_by_detector.values()),
            "by_detector": alerts_by_detector,
            "by_subject": await _grouped(store, "security_alerts", "subject", since_us),
        },
    }


def render_security_report(report: dict[str, Any], *, top: int = 10) -> str:
    """The report as text for a terminal."""
    lines = [f"Security report since {report['since']}"]

    def section(title: str, counts: dict[str, int]) -> None:
        lines.append(f"  {title}:")
        if not counts:
            lines.append("    (none)")
        for key, n in list(counts.items())[:top]:
            lines.append(f"    {n:>8}  {key}")

    events, alerts = report["events"], report["alerts"]
    lines.append(f"Events: {events['total']}")
    section("by kind", events["by_kind"])
    section("by client", events["by_client"])
    section("by address", events["by_address"])
    lines.append(f"Alerts: {alerts['total']}")
    section("by detector", alerts["by_detector"])
    section("by subject", alerts["by_subject"])
    return "\n".join(lines) + "\n"
