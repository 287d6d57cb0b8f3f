"""SIGKILL during a burst of callbacks: nothing acknowledged is lost, nothing is applied twice."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.payment.dvcqg import checksum
from adapters.payment.dvcqg.config import SANDBOX_HASH_KEY
from gateway.auth.signatures import sign_request
from gateway.webhooks import WebhookVerificationError, new_secret, verify
from tests.e2e.conftest import SECRETS
from tests.payments.conftest import eventually, payment_body
from tests.payments.processes import GatewayProcess, free_port, gateway_env

PAYMENTS = 30
COPIES = 4


def paid_callback(reference: str, amount: int) -> dict[str, Any]:
    """A valid 'paid' result callback from the national payment platform."""
    message: dict[str, Any] = {
        "LoaiBanTin": "KetQuaGiaoDich",
        "MaLoi": "00",
        "MaDoiTac": "LIENTHONG",
        "MaThamChieu": reference,
        "SoTien": amount,
        "MaTienTe": "VND",
        "MaGiaoDich": "TXN" + reference[-10:],
        "MaNganHang": "SANDBOXBANK",
        "ThoiGianGD": "20260301090000",
        "ThongTinGiaoDich": "Thanh toan",
    }
    return checksum.sign(message, checksum.CALLBACK_FIELDS, SANDBOX_HASH_KEY)


async def signed_post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> dict[str, Any]:
    data = json.dumps(body).encode()
    headers = sign_request(
        "POST",
        url,
        {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
        data,
        "motcua-demo",
        SECRETS["motcua-demo"],
    )
    async with session.post(url, data=data, headers=headers) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def send_callback(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> bool:
    """One delivery; True when the gateway answered MaLoi 00 (the provider stops sending)."""
    try:
        async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
            answer = await r.json(content_type=None)
            return r.status == 200 and answer.get("MaLoi") == "00"
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_during_a_callback_burst(tmp_path: Path) -> None:
    """Acknowledged callbacks survive the kill exactly once; every event reaches the receiver."""
    secret = new_secret()
    received: dict[str, dict[str, Any]] = {}

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            msg_id = verify([secret], request.headers, body, now=datetime.now(UTC))
        except WebhookVerificationError:
            return web.Response(status=401)
        received[msg_id] = json.loads(body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    receiver_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    db = tmp_path / "gw.db"
    port = free_port()
    env = gateway_env(port, f"sqlite:///{db}", receiver_port, secret)
    log = tmp_path / "gateway.log"
    gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
    try:
        async with aiohttp.ClientSession() as session:
            payments = []
            for _ in range(PAYMENTS):
                body = payment_body(
                    provider="dvcqg", return_url=f"http://127.0.0.1:{receiver_port}/return"
                )
                payment = await signed_post(session, gateway.url + "/v1/payments", body)
                async with session.get(payment["pay_url"]) as r:
                    page = await r.text()
                reference = page.split("id='reference'>", 1)[1].split("<", 1)[0]
                payments.append((payment, paid_callback(reference, payment["amount"])))
            callback_url = gateway.url + "/callbacks/dvcqg"
            tasks = [
                asyncio.create_task(send_callback(session, callback_url, cb))
                for _, cb in payments
                for _ in range(COPIES)
            ]
            await eventually(
                lambda: _answered(tasks, PAYMENTS // 2), what="half the burst answered"
            )
            gateway.kill()
            outcomes = await asyncio.gather(*tasks)
            acknowledged = {
                payments[i // COPIES][0]["payment_id"] for i, ok in enumerate(outcomes) if ok
            }
            assert 0 < len(acknowledged) <= PAYMENTS
            in_store = _paid_ids(db)
            assert acknowledged <= in_store  # every acknowledged callback was committed

            gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
            for payment, cb in payments:  # the provider delivers again until acknowledged
                if payment["payment_id"] not in acknowledged:
                    assert await send_callback(session, callback_url, cb)
            await eventually(
                lambda: _all_delivered(db), within=30, what="every outbox event delivered"
            )
    finally:
        assert gateway.stop() in (0, -9)
        await runner.cleanup()
    events = _events(db)
    assert _paid_ids(db) == {p["payment_id"] for p, _ in payments}
    assert sorted(t for _, _, t in events).count("payment.paid") == PAYMENTS
    assert {e for e, _, _ in events} <= set(received)
    for payment, _ in payments:
        types = [received[e]["type"] for e, p, _ in events if p == payment["payment_id"]]
        assert types == ["payment.pending", "payment.paid"]


async def _answered(tasks: list[asyncio.Task[bool]], count: int) -> bool:
    return sum(1 for t in tasks if t.done() and t.result()) >= count


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def _paid_ids(db: Path) -> set[str]:
    return {r[0] for r in _query(db, "SELECT id FROM payments WHERE status = 'paid'")}


def _events(db: Path) -> list[tuple[str, str, str]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in _query(
            db, "SELECT id, payment_id, type FROM outbox_events ORDER BY payment_version"
        )
    ]


async def _all_delivered(db: Path) -> bool:
    rows = _query(db, "SELECT COUNT(*) FROM outbox_events WHERE status <> 'delivered'")
    return int(rows[0][0]) == 0
