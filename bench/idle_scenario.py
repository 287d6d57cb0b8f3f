"""Idle connections (issue #13): the gateway's resident memory with 1,000 of them open at once.

Each connection sends one keep-alive ``GET /healthz``, reads the whole answer and
then stays open, idle, as a client's pool keeps it. The resident set size
(``VmRSS`` in ``/proc/<pid>/status``) is read before the connections open and
while all of them are held; the minimal proxy gets the same connections as the
baseline (it forwards its ``GET`` to the population sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from bench.figures import Comparison
from bench.scenario_kit import ScenarioReport
from bench.stack import GATEWAY, PROXY, BenchStack

#: How many idle connections are held open at once.
IDLE_CONNECTIONS = 1_000
#: The target for the gateway's RSS with them open (issue #13).
RSS_TARGET_MB = 150.0
#: Connections opened at a time (a listen backlog is 128 by default).
_OPENING = 100


def rss_mb(pid: int) -> float:
    """The process's resident set size, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _one(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return reader, writer


async def hold_idle(url: str, count: int, pid: int) -> tuple[int, float]:
    """Open ``count`` keep-alive connections to ``url``; (how many opened, RSS while held)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        while len(held) < count:
            batch = min(_OPENING, count - len(held))
            opened = await asyncio.gather(
                *(_one(host, port) for _ in range(batch)), return_exceptions=True
            )
            held += [pair for pair in opened if not isinstance(pair, BaseException)]
            if len(held) < count and all(isinstance(p, BaseException) for p in opened):
                break
        await asyncio.sleep(1.0)  # let the server settle with every connection idle
        return len(held), rss_mb(pid)
    finally:
        for _, writer in held:
            writer.close()
        for _, writer in held:
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


def idle(stack: BenchStack) -> ScenarioReport:
    """RSS of the gateway and of the minimal proxy with ``IDLE_CONNECTIONS`` idle connections."""
    count = 50 if stack.settings.max_requests < 1_000 else IDLE_CONNECTIONS  # --quick
    report = ScenarioReport("idle", f"{count:,} concurrent idle keep-alive connections (RSS)")
    figures: dict[str, tuple[float, float]] = {}
    for name in (PROXY, GATEWAY):
        server = stack.servers.get(name)
        if server is None:
            report.notes.append(f"{name} is not running: not measured")
            continue
        before = rss_mb(server.pid)
        opened, during = asyncio.run(hold_idle(stack.url(name), count, server.pid))
        figures[name] = (before, during)
        report.notes.append(
            f"{name}: RSS {before:.1f} MB idle, {during:.1f} MB with {opened:,} connections"
            f" open (+{(during - before) * 1024 / max(opened, 1):.1f} KB a connection)"
        )
        if opened < count:
            report.notes.append(f"{name}: only {opened:,} of {count:,} connections opened")
    if GATEWAY in figures:
        before, during = figures[GATEWAY]
        report.comparisons.append(
            Comparison.at_most(
                f"gateway RSS with {count:,} idle connections", during, RSS_TARGET_MB, "MB"
            )
        )
        if PROXY in figures:
            proxy_before, proxy_during = figures[PROXY]
            report.comparisons.append(
                Comparison(
                    "RSS added by the connections, gateway − proxy",
                    (during - before) - (proxy_during - proxy_before),
                    "MB",
                )
            )
    return report
