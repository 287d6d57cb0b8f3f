"""``lienthong outbox list|retry|replay``: what operators see and can do."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentIdentity, PaymentStatus
from gateway.store import StoreConfig, open_store


def _payment(identity: PaymentIdentity) -> Payment:
    return Payment(
        id=identity.id,
        reference=identity.reference,
        client_id="motcua-demo",
        provider="dvcqg",
        status=PaymentStatus.CREATED,
        amount=150000,
        currency="VND",
        dossier_code="D1",
        procedure_code="P1",
        agency_code="A1",
        fee_lines=[],
        return_url="http://127.0.0.1:8799/r",
        created_at=identity.created_at,
        updated_at=identity.created_at,
        expires_at=identity.created_at + dt.timedelta(minutes=15),
    )


async def _one_event(url: str) -> str:
    store = await open_store(StoreConfig(url=url))
    try:
        ledger = PaymentLedger(store)
        payment, _ = await ledger.create("motcua-demo", "k", "f", _payment)
        result = await ledger.transition(payment.id, PaymentStatus.PENDING, reason="test")
        assert result.event_id is not None
        return result.event_id
    finally:
        await store.close()


async def _dead_letter(url: str, event_id: str) -> None:
    store = await open_store(StoreConfig(url=url))
    try:
        ledger = PaymentLedger(store)
        claimed = await ledger.outbox.claim_due("op-test", dt.timedelta(seconds=30), 10)
        assert [e.id for e in claimed] == [event_id]
        assert await ledger.outbox.dead_letter(event_id, "op-test", "HTTP 500")
    finally:
        await store.close()


async def test_list_retry_and_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead event is listed, retried once (then refused), and only delivered ones replay."""
    url = f"sqlite:///{tmp_path}/gw.db"
    monkeypatch.setenv("LIENTHONG_STORE__URL", url)
    event_id = await _one_event(url)
    await _dead_letter(url, event_id)
    listed = await _run(["outbox", "list", "--status", "dead"])
    listing = capsys.readouterr().out
    replayed_dead = await _run(["outbox", "replay", event_id])
    retried = await _run(["outbox", "retry", event_id])
    retried_again = await _run(["outbox", "retry", event_id])
    assert listed == 0
    assert event_id in listing
    assert "HTTP 500" in listing
    assert replayed_dead == 1
    assert (retried, retried_again) == (0, 1)


async def _run(argv: list[str]) -> int:
    """Run the CLI in a worker thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, argv)
