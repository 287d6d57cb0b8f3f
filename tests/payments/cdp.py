"""A minimal Chrome DevTools Protocol client over aiohttp websockets (for the browser test).

It starts Debian's headless Chromium on a loopback debugging port, opens one
page and lets a test navigate, evaluate JavaScript and wait for conditions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
_DEVTOOLS = re.compile(rb"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


class Browser:
    """One headless Chromium process and one page in it."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self._proc = proc
        self._port = port
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    @classmethod
    async def launch(cls, profile: Path) -> Browser:
        proc = await asyncio.to_thread(cls._spawn, profile)
        port = await asyncio.to_thread(cls._read_port, proc)
        browser = cls(proc, port)
        await browser._attach()
        return browser

    @staticmethod
    def _spawn(profile: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 (a fixed argv: the system's chromium)
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @staticmethod
    def _read_port(proc: subprocess.Popen[bytes]) -> int:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        seen = b""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen += line
            match = _DEVTOOLS.search(line)
            if match:
                return int(match.group(2))
        proc.kill()
        raise RuntimeError("chromium did not start: " + seen.decode(errors="replace")[-1000:])

    async def _attach(self) -> None:
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{self._port}/json/list") as r:
            targets = await r.json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One CDP command; its result (events in between are ignored)."""
        assert self._ws is not None
        ident = next(self._ids)
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = await self._ws.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"devtools connection ended: {msg.type}")
            data = json.loads(msg.data)
            if data.get("id") == ident:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, *, within: float = 20.0) -> Any:
        """Evaluate ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + within
        while True:
            try:
                value = await self.evaluate(expression)
            except RuntimeError:
                value = None  # the page is navigating
            if value:
                return value
            if time.monotonic() > deadline:
                href = await self.evaluate(
                    "location.href + ' ' + document.body?.innerText?.slice(0, 300)"
                )
                raise AssertionError(f"timed out waiting for {expression!r} at {href}")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        self._proc.kill()
        await asyncio.to_thread(self._proc.wait, 10)
        if self._proc.stderr is not None:
            self._proc.stderr.close()
