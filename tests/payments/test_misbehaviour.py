"""Every payment ends in the right state, once, whatever the provider sends twice, late or wrong."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.payment.dvcqg import checksum as dvcqg_checksum
from adapters.payment.dvcqg.config import SANDBOX_HASH_KEY
from gateway.store import Store
from tests.payments.conftest import PaymentHarness, eventually, wait_status

PROVIDERS = ["dvcqg", "vnpay"]


async def events_of(store: Store, payment_id: str) -> list[tuple[int, str]]:
    """(payment version, event type) of every outbox row of one payment."""
    rows = await store.fetch_all(
        "SELECT payment_version, type FROM outbox_events WHERE payment_id = $1"
        " ORDER BY payment_version",
        payment_id,
    )
    return [(int(r["payment_version"]), str(r["type"])) for r in rows]


async def closed(harness: PaymentHarness, provider: str, count: int) -> bool:
    return int((await harness.stats(provider)).get("callbacks_closed", 0)) >= count


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_twenty_simultaneous_callbacks_make_one_transition(
    harness: PaymentHarness, provider: str
) -> None:
    """20 identical callbacks at the same instant: one paid transition, one payment.paid event."""
    await harness.misbehave(provider, simultaneous_callbacks=20)
    payment = await harness.created(provider)
    await harness.pay(payment)
    await eventually(lambda: closed(harness, provider, 20), what="20 callbacks answered")
    store = await harness.open_store()
    stats = await harness.stats(provider)
    paid = await harness.read(payment["payment_id"])
    assert paid["status"] == "paid"
    assert stats.get("callbacks_refused", 0) == 0
    assert await events_of(store, payment["payment_id"]) == [
        (2, "payment.pending"),
        (3, "payment.paid"),
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_failed_after_paid_leaves_it_paid(harness: PaymentHarness, provider: str) -> None:
    """A stale 'failed' after 'paid' is acknowledged and changes nothing."""
    await harness.misbehave(provider, out_of_order="failed")
    payment = await harness.created(provider)
    await harness.pay(payment)
    await eventually(lambda: closed(harness, provider, 2), what="both callbacks answered")
    store = await harness.open_store()
    final = await harness.read(payment["payment_id"])
    assert final["status"] == "paid"
    assert [t for _, t in await events_of(store, payment["payment_id"])] == [
        "payment.pending",
        "payment.paid",
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_return_racing_the_callback(harness: PaymentHarness, provider: str) -> None:
    """The payer returns before the callback: the return asks the provider; one paid event."""
    await harness.misbehave(provider, callback_delay=0.5)
    payment = await harness.created(provider)
    visit = await harness.pay(payment)
    async with harness.session.get(visit.return_location, allow_redirects=False) as r:
        location = r.headers["Location"]
    await eventually(lambda: closed(harness, provider, 1), what="the late callback answered")
    store = await harness.open_store()
    assert location.endswith("&status=paid")
    assert [t for _, t in await events_of(store, payment["payment_id"])] == [
        "payment.pending",
        "payment.paid",
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_forged_callbacks_change_nothing(harness: PaymentHarness, provider: str) -> None:
    """A corrupt checksum: refused in the provider's format, state unchanged, security event."""
    sample = 'lienthong_security_events_total{kind="bad_callback_checksum"}'
    before = await harness.metric(sample)
    await harness.misbehave(provider, bad_checksum=True)
    payment = await harness.created(provider)
    visit = await harness.pay(payment)
    await eventually(lambda: _refused(harness, provider), what="a forged callback refused")
    async with harness.session.get(visit.return_location, allow_redirects=False) as r:
        return_status = r.status
    after = await harness.read(payment["payment_id"])
    assert after["status"] == "pending"
    assert return_status == 400
    assert await harness.metric(sample) > before


async def _refused(harness: PaymentHarness, provider: str) -> bool:
    return int((await harness.stats(provider)).get("callbacks_refused", 0)) >= 1


def _forged_dvcqg_callback(reference: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "LoaiBanTin": "KetQuaGiaoDich",
        "MaLoi": "00",
        "MaDoiTac": "LIENTHONG",
        "MaThamChieu": reference,
        "SoTien": 150000,
        "MaTienTe": "VND",
        "MaGiaoDich": "FORGED1",
        "MaNganHang": "X",
        "ThoiGianGD": "20260301090000",
        "ThongTinGiaoDich": "x",
    }
    dvcqg_checksum.sign(message, dvcqg_checksum.CALLBACK_FIELDS, "not-the-hash-key")
    return message


async def test_forged_dvcqg_callback_answer_format(harness: PaymentHarness) -> None:
    """A callback signed with the wrong key gets the platform's signed MaLoi 99 answer."""
    payment = await harness.created("dvcqg")
    async with harness.session.get(payment["pay_url"]) as r:
        page = await r.text()
    reference = page.split("id='reference'>", 1)[1].split("<", 1)[0]
    async with harness.session.post(
        harness.gateway.url + "/callbacks/dvcqg", json=_forged_dvcqg_callback(reference)
    ) as r:
        status, answer = r.status, json.loads(await r.text())
    after = await harness.read(payment["payment_id"])
    assert status == 200
    assert answer["MaLoi"] == "99"
    assert dvcqg_checksum.verify(answer, dvcqg_checksum.REPLY_FIELDS, SANDBOX_HASH_KEY)
    assert after["status"] == "pending"


async def test_forged_vnpay_ipn_answer_format(harness: PaymentHarness) -> None:
    """A VNPay IPN with a wrong vnp_SecureHash is answered RspCode 97."""
    payment = await harness.created("vnpay")
    visit = await harness.pay(payment)  # the sandbox settles; the IPN below is ours
    query = visit.return_location.split("?", 1)[1]
    forged = query[:-1] + ("0" if query[-1] != "0" else "1")
    async with harness.session.get(harness.gateway.url + "/callbacks/vnpay?" + forged) as r:
        answer = await r.json()
    assert answer == {"RspCode": "97", "Message": "Invalid Checksum"}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wrong_amount_needs_review(harness: PaymentHarness, provider: str) -> None:
    """A paid amount that differs from the bill: needs_review, a security event, one event."""
    sample = 'lienthong_security_events_total{kind="amount_mismatch"}'
    before = await harness.metric(sample)
    await harness.misbehave(provider, amount_delta=-1000)
    payment = await harness.created(provider)
    await harness.pay(payment)
    await wait_status(harness, payment["payment_id"], "needs_review")
    await eventually(
        lambda: _types(harness, payment["payment_id"], 2), what="the needs_review webhook"
    )
    await eventually(lambda: _refused(harness, provider), what="the mismatch answered as such")
    stats = await harness.stats(provider)
    assert harness.receiver.types_for(payment["payment_id"]) == [
        "payment.pending",
        "payment.needs_review",
    ]
    assert await harness.metric(sample) == before + 1
    assert stats.get("callbacks_closed", 0) == 0  # answered 'invalid amount', not 'confirmed'


async def _types(harness: PaymentHarness, payment_id: str, count: int) -> bool:
    return len(harness.receiver.types_for(payment_id)) >= count


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_lost_callback_recovered_by_polling(harness: PaymentHarness, provider: str) -> None:
    """The provider never calls back: the poller asks it and the payment becomes paid."""
    await harness.misbehave(provider, never_send=True)
    payment = await harness.created(provider)
    await harness.pay(payment)
    paid = await wait_status(harness, payment["payment_id"], "paid")
    stats = await harness.stats(provider)
    assert paid["status"] == "paid"
    assert stats["callbacks_withheld"] == 1
    assert stats["status_queries"] >= 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_refresh_asks_the_provider_now(harness: PaymentHarness, provider: str) -> None:
    """GET ?refresh=true applies the provider's answer at once."""
    await harness.misbehave(provider, never_send=True)
    payment = await harness.created(provider)
    await harness.pay(payment)
    refreshed = await harness.read(payment["payment_id"], refresh=True)
    assert refreshed["status"] == "paid"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_webhook_receiver_down_then_up(harness: PaymentHarness, provider: str) -> None:
    """Receiver down for a while: afterwards every event arrives once per id, in order."""
    harness.receiver.down = True
    payments = [await harness.created(provider) for _ in range(3)]
    for payment in payments:
        await harness.pay(payment)
    for payment in payments:
        await wait_status(harness, payment["payment_id"], "paid")
    await eventually(lambda: _refused_webhook(harness), what="refused deliveries")
    harness.receiver.down = False
    for payment in payments:
        await eventually(_types_check(harness, payment["payment_id"], 2), what="both events")
    ids = [d.webhook_id for d in harness.receiver.accepted]
    assert len(ids) == len(set(ids)) == 6
    for payment in payments:
        assert harness.receiver.types_for(payment["payment_id"]) == [
            "payment.pending",
            "payment.paid",
        ]


def _types_check(
    harness: PaymentHarness, payment_id: str, count: int
) -> Callable[[], Awaitable[bool]]:
    return lambda: _types(harness, payment_id, count)


async def _refused_webhook(harness: PaymentHarness) -> bool:
    return harness.receiver.refused >= 3
