"""SIGKILL during a burst of callbacks: nothing acknowledged is lost, nothing is applied twice.

The burst mixes three kinds of payment: ordinary ones paid with the billed
amount, cancelled ones paid late (→ needs_review ``paid_after_cancelled``) and
ones paid with another amount (→ needs_review ``amount_mismatch``). After the
restart each payment has exactly one transition per result, one event per
transition, one security event where one belongs, and the outbox is drained.
"""

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
from gateway.webhook_signatures import WebhookVerificationError, new_secret, verify
from tests.payments.conftest import eventually, payment_body
from tests.payments.processes import GatewayProcess, free_port, gateway_env
from tests.support.gateway import SECRETS

PAYMENTS = 30
LATE = 10
MISMATCHED = LATE
COPIES = 4

#: Per kind of payment: its final status, review reason, event types and security event.
EXPECTED: dict[str, tuple[str, str | None, list[str], str | None]] = {
    "paid": ("paid", None, ["payment.pending", "payment.paid"], None),
    "late": (
        "needs_review",
        "paid_after_cancelled",
        ["payment.pending", "payment.cancelled", "payment.needs_review"],
        "late_payment",
    ),
    "mismatched": (
        "needs_review",
        "amount_mismatch",
        ["payment.pending", "payment.needs_review"],
        "amount_mismatch",
    ),
}


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


async def open_payment(
    session: aiohttp.ClientSession, base: str, receiver_port: int
) -> tuple[dict[str, Any], str]:
    """A new dvcqg payment, its pay page opened (now pending); (payment, its reference)."""
    body = payment_body(provider="dvcqg", return_url=f"http://127.0.0.1:{receiver_port}/return")
    payment = await signed_post(session, base + "/v1/payments", body)
    async with session.get(payment["pay_url"]) as r:
        page = await r.text()
    return payment, page.split("id='reference'>", 1)[1].split("<", 1)[0]


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
    # 50 creates and 10 cancel checks in a row: more than the default quota's burst.
    quota = {"rate_per_second": 1000.0, "burst": 1000.0}
    env["LIENTHONG_UPSTREAMS__DVCQG__RESILIENCE"] = json.dumps({"quota": quota})
    log = tmp_path / "gateway.log"
    gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
    # Interleaved, so that the kill falls among committed results of every kind.
    kinds = (["paid"] * (PAYMENTS // LATE) + ["late", "mismatched"]) * LATE
    try:
        async with aiohttp.ClientSession() as session:
            payments: list[tuple[dict[str, Any], dict[str, Any], str]] = []
            for kind in kinds:
                payment, reference = await open_payment(session, gateway.url, receiver_port)
                if kind == "late":
                    await signed_cancel(session, gateway.url, payment["payment_id"])
                amount = payment["amount"] - (1000 if kind == "mismatched" else 0)
                payments.append((payment, paid_callback(reference, amount), kind))
            callback_url = gateway.url + "/callbacks/dvcqg"
            tasks = [
                asyncio.create_task(send_callback(session, callback_url, cb))
                for _, cb, _ in payments
                for _ in range(COPIES)
            ]
            await eventually(
                lambda: _answered(tasks, (PAYMENTS + LATE) // 2), what="half the burst answered"
            )
            gateway.kill()
            outcomes = await asyncio.gather(*tasks)
            acknowledged = {
                payments[i // COPIES][0]["payment_id"] for i, ok in enumerate(outcomes) if ok
            }
            assert 0 < len(acknowledged) <= PAYMENTS + LATE
            settled = _settled_ids(db)
            assert acknowledged <= settled  # every acknowledged callback was committed

            gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
            for payment, cb, kind in payments:  # the provider delivers again until acknowledged
                if kind == "mismatched":  # never acknowledged ("invalid amount"): sent again
                    await send_callback(session, callback_url, cb)
                elif payment["payment_id"] not in acknowledged:
                    assert await send_callback(session, callback_url, cb)
            await eventually(
                lambda: _all_delivered(db), within=30, what="every outbox event delivered"
            )
    finally:
        assert gateway.stop() in (0, -9)
        await runner.cleanup()
    events = _events(db)
    states = _states(db)
    security = _security_events(db)
    assert {e for e, _, _ in events} <= set(received)
    for payment, _, kind in payments:
        payment_id = payment["payment_id"]
        status, reason, types, security_kind = EXPECTED[kind]
        assert states[payment_id] == (status, reason), kind
        delivered = [received[e]["type"] for e, p, _ in events if p == payment_id]
        assert delivered == types, kind
        expected_security = [security_kind] if security_kind else []
        assert security.get(payment_id, []) == expected_security, kind
    assert sum(len(v) for v in security.values()) == LATE + MISMATCHED


async def signed_cancel(session: aiohttp.ClientSession, base: str, payment_id: str) -> None:
    """``POST /v1/payments/{id}/cancel`` as the one-stop system."""
    url = f"{base}/v1/payments/{payment_id}/cancel"
    headers = sign_request("POST", url, {}, b"", "motcua-demo", SECRETS["motcua-demo"])
    async with session.post(url, headers=headers) as r:
        assert r.status == 200, await r.text()


async def _answered(tasks: list[asyncio.Task[bool]], count: int) -> bool:
    return sum(1 for t in tasks if t.done() and t.result()) >= count


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def _settled_ids(db: Path) -> set[str]:
    """Payments a paid result has reached (paid, or needs_review)."""
    rows = _query(db, "SELECT id FROM payments WHERE status IN ('paid', 'needs_review')")
    return {r[0] for r in rows}


def _states(db: Path) -> dict[str, tuple[str, str | None]]:
    """Each payment's status and, in needs_review, its reason."""
    rows = _query(db, "SELECT id, status, status_reason FROM payments")
    return {str(r[0]): (str(r[1]), str(r[2]) if r[1] == "needs_review" else None) for r in rows}


def _security_events(db: Path) -> dict[str, list[str]]:
    """The stored security events that name a payment, by payment id."""
    found: dict[str, list[str]] = {}
    for kind, detail in _query(db, "SELECT kind, detail FROM security_event_log"):
        payment_id = json.loads(detail).get("payment_id")
        if payment_id is not None:
            found.setdefault(str(payment_id), []).append(str(kind))
    return found


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


BURST = 60


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_while_callbacks_are_group_committed(tmp_path: Path) -> None:
    """All callbacks at once (SQLite commits them in groups): every one answered 00 is paid.

    Checked on the file the killed process left and again after a restart; the
    ones left unanswered are delivered again and each payment is paid exactly once.
    """
    db = tmp_path / "gw.db"
    port = free_port()
    receiver_port = free_port()  # nothing listens: the outbox keeps its events
    env = gateway_env(port, f"sqlite:///{db}", receiver_port, new_secret())
    quota = {"rate_per_second": 1000.0, "burst": 1000.0}
    env["LIENTHONG_UPSTREAMS__DVCQG__RESILIENCE"] = json.dumps({"quota": quota})
    log = tmp_path / "gateway.log"
    gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
    try:
        async with aiohttp.ClientSession() as session:
            bills: list[tuple[str, dict[str, Any]]] = []
            for _ in range(BURST):
                payment, reference = await open_payment(session, gateway.url, receiver_port)
                bills.append((payment["payment_id"], paid_callback(reference, payment["amount"])))
            callback_url = gateway.url + "/callbacks/dvcqg"
            tasks = [
                asyncio.create_task(send_callback(session, callback_url, cb)) for _, cb in bills
            ]
            await eventually(lambda: _answered(tasks, BURST // 4), what="a quarter answered")
            gateway.kill()
            outcomes = await asyncio.gather(*tasks)
            acknowledged = {bills[i][0] for i, ok in enumerate(outcomes) if ok}
            assert acknowledged
            assert acknowledged <= _paid_once(db)  # on the file the killed process left

            gateway = await asyncio.to_thread(GatewayProcess.start, port, env, log)
            assert acknowledged <= _paid_once(db)  # and after the restart
            for payment_id, cb in bills:
                if payment_id not in acknowledged:
                    assert await send_callback(session, callback_url, cb)
    finally:
        assert gateway.stop() in (0, -9)
    assert _paid_once(db) == {payment_id for payment_id, _ in bills}


def _paid_once(db: Path) -> set[str]:
    """Payments paid, at version 3 (pending, paid), with exactly one payment.paid event."""
    rows = _query(
        db,
        "SELECT p.id FROM payments p WHERE p.status = 'paid' AND p.version = 3"
        " AND (SELECT COUNT(*) FROM outbox_events e WHERE e.payment_id = p.id"
        " AND e.type = 'payment.paid') = 1",
    )
    return {str(r[0]) for r in rows}
