"""Each sandbox misbehaviour, observed at a callback receiver on loopback (both providers)."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

from adapters.payment.config import ProviderStatus
from tests.adapters.payment.conftest import PaymentPeer, make_order


async def test_duplicate_callbacks_arrive_n_times(peer: PaymentPeer) -> None:
    """duplicate_callbacks=3 delivers the same verified callback three times, one after another."""
    await peer.admin("misbehaviour", {"duplicate_callbacks": 3})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(3)
    assert [e.outcome for e in events] == ["confirmed", "already_confirmed", "already_confirmed"]
    assert len({(e.result.reference, e.result.provider_txn_id) for e in events if e.result}) == 1
    stats = await peer.idle()
    assert stats["callbacks_closed"] == 3


async def test_simultaneous_callbacks_overlap_at_the_receiver(peer: PaymentPeer) -> None:
    """simultaneous_callbacks=2 sends two identical callbacks that are in flight together."""
    peer.receiver.hold = 0.05
    await peer.admin("misbehaviour", {"simultaneous_callbacks": 2})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(2)
    assert peer.receiver.max_active == 2
    assert events[0].result == events[1].result


async def test_out_of_order_pending_arrives_after_paid(peer: PaymentPeer) -> None:
    """out_of_order='pending' sends a verified PENDING callback after the PAID one."""
    await peer.admin("misbehaviour", {"out_of_order": "pending"})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(2)
    statuses = [e.result.status for e in events if e.result]
    assert statuses == [ProviderStatus.PAID, ProviderStatus.PENDING]


async def test_wrong_amount_is_reported_and_not_closed(peer: PaymentPeer) -> None:
    """amount_delta reports another amount as paid; the mismatch answer never closes it."""
    await peer.admin("misbehaviour", {"amount_delta": -1_000})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(3)
    assert {e.outcome for e in events} == {"amount_mismatch"}
    assert {e.result.amount for e in events if e.result} == {order.amount - 1_000}
    stats = await peer.idle()
    assert stats["callbacks_abandoned"] == 1
    status = await peer.provider.query_status(order.reference, created_at=order.created_at)
    assert status.amount == order.amount - 1_000


async def test_admin_pay_amount_override(peer: PaymentPeer) -> None:
    """/_admin/pay with an amount reports that amount as paid."""
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference, "amount": order.amount + 5})
    events = await peer.receiver.wait_for(1)
    assert events[0].outcome == "amount_mismatch"
    assert events[0].result is not None
    assert events[0].result.amount == order.amount + 5


async def test_bad_checksum_is_rejected_and_retried(peer: PaymentPeer) -> None:
    """bad_checksum callbacks are rejected by parse_callback; the sandbox retries, then gives up."""
    await peer.admin("misbehaviour", {"bad_checksum": True})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(3)
    assert [e.outcome for e in events] == ["rejected"] * 3
    assert all(e.rejected is not None and e.rejected.kind == "bad_checksum" for e in events)
    stats = await peer.idle()
    assert (stats["callbacks_refused"], stats["callbacks_abandoned"]) == (3, 1)


async def test_never_sent_callback_is_recovered_by_status_query(peer: PaymentPeer) -> None:
    """never_send withholds the callback; the status query still shows the payment paid."""
    await peer.admin("misbehaviour", {"never_send": True})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    stats = await peer.idle()
    assert stats["callbacks_withheld"] == 1
    assert stats.get("callbacks_sent", 0) == 0
    assert peer.receiver.events == []
    status = await peer.provider.query_status(order.reference, created_at=order.created_at)
    assert status.status is ProviderStatus.PAID


async def test_late_callback_waits_for_its_delay(peer: PaymentPeer) -> None:
    """callback_delay holds the callback until the delay passes (sleep injected, no real wait)."""
    await peer.admin("misbehaviour", {"callback_delay": 120})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    async with asyncio.timeout(10):
        await peer.sleep.entered.wait()
    assert peer.sleep.held == [120]
    assert peer.receiver.events == []
    peer.sleep.release.set()
    events = await peer.receiver.wait_for(1)
    assert events[0].outcome == "confirmed"


async def test_reset_restores_good_behaviour(peer: PaymentPeer) -> None:
    """/_admin/reset clears misbehaviour, payments and stats."""
    await peer.admin("misbehaviour", {"never_send": True})
    await peer.admin("reset")
    assert (await peer.admin("misbehaviour"))["never_send"] is False
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    await peer.receiver.wait_for(1)
    assert (await peer.idle())["callbacks_closed"] == 1


async def test_reference_knob_names_another_order_in_callbacks_and_returns(
    peer: PaymentPeer,
) -> None:
    """reference='…' puts that (odd) reference in the signed callback and return, not in queries."""
    odd = "HS-0001/ü x?&=~*'"
    await peer.admin("misbehaviour", {"reference": odd})
    order = make_order()
    await peer.open(order)
    redirect = (await peer.admin("pay", {"reference": order.reference}))["return_url"]
    events = await peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert events[0].result.reference == odd
    query = dict(parse_qsl(urlsplit(redirect).query, keep_blank_values=True))
    assert peer.provider.parse_callback("GET", query, b"").reference == odd
    status = await peer.provider.query_status(order.reference, created_at=order.created_at)
    assert status.status is ProviderStatus.PAID


async def test_merchant_code_knob_names_another_merchant(peer: PaymentPeer) -> None:
    """merchant_code='…' signs callbacks naming another TmnCode / MaDoiTac."""
    await peer.admin("misbehaviour", {"merchant_code": "OTHERSHOP"})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert events[0].result.for_this_merchant is False


async def test_amount_hundredths_knob_reports_a_fraction_of_a_dong(peer: PaymentPeer) -> None:
    """amount_hundredths=1 reports the bill plus a hundredth of a dong, correctly signed."""
    await peer.admin("misbehaviour", {"amount_hundredths": 1})
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    events = await peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert (events[0].result.amount, events[0].result.whole_dong) == (order.amount, False)


async def test_vnpay_code_knobs_are_validated_and_vnpay_only(peer: PaymentPeer) -> None:
    """response_code / transaction_status: two digits, VNPay only, cleared by reset."""
    url = f"{peer.sandbox_url}/_admin/misbehaviour"
    async with peer.http.post(url, json={"transaction_status": "05"}) as resp:
        accepted = resp.status
    async with peer.http.post(url, json={"response_code": "7"}) as resp:
        malformed = resp.status
    async with peer.http.post(url, json={"amount_hundredths": 100}) as resp:
        too_many = resp.status
    assert (malformed, too_many) == (400, 400)
    if peer.name == "vnpay":
        assert accepted == 200
        assert (await peer.admin("misbehaviour"))["transaction_status"] == "05"
        await peer.admin("reset")
        assert (await peer.admin("misbehaviour"))["transaction_status"] is None
    else:
        assert accepted == 400
