"""Events and alerts reach the store, the report, and the alert webhook (signed)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.security import (
    AlertWebhookConfig,
    AlertWebhookSender,
    BurstDetectorConfig,
    SecurityAlert,
    SecurityConfig,
    SecurityMonitor,
    SecurityRecorder,
    check_callback_source,
    render_security_report,
    security_report,
)
from gateway.security import events as security_events
from gateway.security.commands import security_report_command
from gateway.store import Store, StoreConfig
from gateway.webhook_signatures import new_secret, verify

from .conftest import WALL

CITIZEN_ID = "092090001234"
CITIZEN_NAME = "Nguyễn Văn An"

Build = Callable[[SecurityConfig], SecurityMonitor]


async def test_events_and_alerts_are_stored_and_reported(store: Store, make_monitor: Build) -> None:
    """Recorded events and alerts are summarised by kind, client, address and detector."""
    recorder = SecurityRecorder(store, "gw-1", interval_seconds=3600)
    await recorder.start()
    monitor = make_monitor(
        SecurityConfig(auth_failures=BurstDetectorConfig(threshold=3, window_seconds=60))
    )
    monitor.add_sink(recorder.on_alert)
    for _ in range(3):
        security_events.emit("bad_signature", client_id="portal", remote="127.0.0.8")
    security_events.emit(
        "forbidden",
        client_id="one-stop",
        remote="127.0.0.9",
        id_number=CITIZEN_ID,
        full_name=CITIZEN_NAME,
        secret="s3cr3t",
    )
    await recorder.stop()
    report = await security_report(store, WALL - timedelta(hours=24))
    assert report["events"]["by_kind"] == {"bad_signature": 3, "forbidden": 1}
    assert report["events"]["by_client"] == {"portal": 3, "one-stop": 1}
    assert report["events"]["by_address"] == {"127.0.0.8": 3, "127.0.0.9": 1}
    assert report["alerts"]["by_detector"] == {
        "auth_failures_by_address": 1,
        "auth_failures_by_client": 1,
    }
    text = render_security_report(report)
    assert "bad_signature" in text
    assert "auth_failures_by_client" in text
    rows = await store.fetch_all("SELECT * FROM security_event_log")
    stored = json.dumps(rows, ensure_ascii=False)
    assert CITIZEN_ID not in stored
    assert CITIZEN_NAME not in stored
    assert "s3cr3t" not in stored


async def test_report_command_prints_the_period(store: Store, tmp_path: Path) -> None:
    """``security report`` prints only the events since the given time."""
    recorder = SecurityRecorder(store, "gw-1", clock=lambda: WALL - timedelta(days=3))
    await recorder.start()
    security_events.emit("rate_limited", client_id="portal", remote="127.0.0.8")
    await recorder.stop()
    out = io.StringIO()
    config = StoreConfig(url=f"sqlite:///{tmp_path}/sec.db")
    assert await security_report_command(config, "24h", out=out, clock=lambda: WALL) == 0
    assert "Events: 0" in out.getvalue()
    out = io.StringIO()
    assert await security_report_command(config, "7d", out=out, clock=lambda: WALL) == 0
    assert "rate_limited" in out.getvalue()


@pytest.fixture
async def alert_receiver() -> AsyncIterator[tuple[TestServer, list[tuple[dict[str, str], bytes]]]]:
    """A loopback webhook receiver that fails its first delivery, then accepts."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(received) == 1 else 204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server, received
    await server.close()


async def test_alert_webhook_is_signed_and_retried(
    alert_receiver: tuple[TestServer, list[tuple[dict[str, str], bytes]]],
) -> None:
    """An alert is posted with a Standard Webhooks signature, and retried after a failure."""
    server, received = alert_receiver
    secret = new_secret()
    pauses: list[float] = []

    async def no_wait(seconds: float) -> None:
        pauses.append(seconds)

    config = AlertWebhookConfig(url=str(server.make_url("/alerts")), secret=secret)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        sender = AlertWebhookSender(config, session, clock=lambda: WALL, sleep=no_wait)
        await sender.start()
        sender.enqueue(SecurityAlert("a1", "enumeration", "one-stop", WALL, {"distinct_ids": 50}))
        await asyncio.wait_for(sender.stop(), 10)
    assert len(received) == 2
    assert pauses == [1.0]
    headers, body = received[1]
    assert verify([secret], headers, body, now=WALL) == "a1"
    assert json.loads(body)["data"]["detector"] == "enumeration"


def test_callback_from_outside_the_allow_list_is_an_event(make_monitor: Build) -> None:
    """A callback from an address outside the provider's allow-list is refused and reported."""
    seen: list[tuple[str, dict[str, object]]] = []
    unsubscribe = security_events.subscribe(lambda kind, fields: seen.append((kind, dict(fields))))
    try:
        assert check_callback_source("vnpay", "127.0.0.1", ["127.0.0.0/8"])
        assert check_callback_source("vnpay", "127.0.0.1", [])
        assert not check_callback_source("vnpay", "127.0.0.1", ["10.0.0.0/8"])
        assert not check_callback_source("vnpay", "not-an-ip", ["10.0.0.0/8"])
    finally:
        unsubscribe()
    assert [k for k, _ in seen] == ["callback_address_refused"] * 2
