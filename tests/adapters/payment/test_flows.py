"""Both providers against their sandboxes: create, page, callbacks, status, day list."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.errors import UpstreamFault, UpstreamTimeout
from adapters.guard import Unguarded
from adapters.payment.base import CallbackRejected
from adapters.payment.config import ProviderStatus
from tests.adapters.payment.conftest import PaymentPeer, make_order


async def test_pay_url_opens_the_sandbox_payment_page(peer: PaymentPeer) -> None:
    """create → the pay URL answers 200 HTML with the #pay and #cancel buttons."""
    order = make_order()
    created = await peer.provider.create(order)
    async with peer.http.get(created.pay_url) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
    assert "id='pay'" in page
    assert "id='cancel'" in page
    assert order.reference in page


async def test_admin_pay_sends_a_callback_that_verifies(peer: PaymentPeer) -> None:
    """/_admin/pay makes the sandbox call back; the client verifies it and the answer closes it."""
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference, "outcome": "paid"})
    events = await peer.receiver.wait_for(1)
    result = events[0].result
    assert result is not None
    assert result.verified
    assert (result.reference, result.status, result.amount) == (
        order.reference,
        ProviderStatus.PAID,
        order.amount,
    )
    assert result.paid_at is not None
    assert result.provider_txn_id
    stats = await peer.idle()
    assert stats["callbacks_closed"] == 1
    assert stats.get("callbacks_refused", 0) == 0


async def test_pay_button_redirects_with_a_signed_return(peer: PaymentPeer) -> None:
    """Pressing Pay redirects to the return URL with parameters the client verifies as paid."""
    order = make_order()
    pay_url = await peer.open(order)
    async with peer.http.get(pay_url) as resp:
        page = await resp.text()
    action = page.split("action='", 1)[1].split("'", 1)[0]
    async with peer.http.post(
        peer.sandbox_url + action, data={"outcome": "paid"}, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(f"{peer.receiver_base()}/pay/return/{peer.name}?")
    query = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    result = peer.provider.parse_callback("GET", query, b"")
    assert (result.reference, result.status) == (order.reference, ProviderStatus.PAID)


async def test_cancel_button_reports_cancelled(peer: PaymentPeer) -> None:
    """Pressing Cancel sends a verified callback with status cancelled."""
    order = make_order()
    pay_url = await peer.open(order)
    async with peer.http.get(pay_url) as resp:
        page = await resp.text()
    action = page.split("action='", 1)[1].split("'", 1)[0]
    async with peer.http.post(
        peer.sandbox_url + action, data={"outcome": "cancelled"}, allow_redirects=False
    ) as resp:
        assert resp.status == 302
    events = await peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert events[0].result.status is ProviderStatus.CANCELLED


async def test_tampered_callback_is_rejected_with_the_provider_answer(peer: PaymentPeer) -> None:
    """A callback whose amount was changed raises CallbackRejected answering 97 (VNPay) / 99."""
    order = make_order()
    await peer.open(order)
    redirect = (await peer.admin("pay", {"reference": order.reference}))["return_url"]
    query = dict(parse_qsl(urlsplit(redirect).query, keep_blank_values=True))
    if peer.name == "vnpay":
        query["vnp_Amount"] = str(order.amount * 10)
        method, body, args = "GET", b"", query
    else:
        query["SoTien"] = str(order.amount * 10)
        method, body, args = "POST", json.dumps(query).encode(), {}
    with pytest.raises(CallbackRejected) as caught:
        peer.provider.parse_callback(method, args, body)
    answer = json.loads(caught.value.answer.body)
    assert caught.value.kind == "bad_checksum"
    if peer.name == "vnpay":
        assert answer == {"RspCode": "97", "Message": "Invalid Checksum"}
    else:
        assert answer["MaLoi"] == "99"
        assert answer["MaThamChieu"] == order.reference


async def test_query_status_paid_pending_unknown(peer: PaymentPeer) -> None:
    """query_status reports paid, pending, and unknown for a reference the provider never saw."""
    paid, pending = make_order(), make_order(amount=70_000)
    await peer.open(paid)
    await peer.open(pending)
    await peer.admin("pay", {"reference": paid.reference})
    result = await peer.provider.query_status(paid.reference, created_at=paid.created_at)
    assert (result.status, result.amount) == (ProviderStatus.PAID, paid.amount)
    assert result.provider_txn_id
    result = await peer.provider.query_status(pending.reference, created_at=pending.created_at)
    assert (result.status, result.amount) == (ProviderStatus.PENDING, pending.amount)
    never = make_order()
    result = await peer.provider.query_status(never.reference, created_at=never.created_at)
    assert result.status is ProviderStatus.UNKNOWN


async def test_slow_status_query_times_out(peer: PaymentPeer) -> None:
    """A status query slower than the attempt timeout raises UpstreamTimeout (no hang)."""
    order = make_order()
    await peer.open(order)
    await peer.admin("misbehaviour", {"status_delay": 30})
    with pytest.raises(UpstreamTimeout):
        await Unguarded().call(
            "query_status",
            lambda: peer.slow_provider.query_status(order.reference, created_at=order.created_at),
        )


async def test_slow_status_query_bounded_by_a_caller_deadline(peer: PaymentPeer) -> None:
    """A caller's own deadline around query_status ends a slow query."""
    order = make_order()
    await peer.open(order)
    await peer.admin("misbehaviour", {"status_delay": 30})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await peer.provider.query_status(order.reference, created_at=order.created_at)


async def test_failing_status_query_is_an_upstream_fault(peer: PaymentPeer) -> None:
    """A status query answered HTTP 503 raises a server-side UpstreamFault."""
    order = make_order()
    await peer.open(order)
    await peer.admin("misbehaviour", {"status_failure": 503})
    with pytest.raises(UpstreamFault) as caught:
        await peer.provider.query_status(order.reference, created_at=order.created_at)
    assert caught.value.code == "503"
    assert caught.value.retryable


async def test_day_list_streams_fifty_thousand_rows_page_by_page(peer: PaymentPeer) -> None:
    """list_transactions yields 50,000 seeded rows, fetching one 10,000-row page at a time."""
    day = dt.date(2025, 3, 2)
    await peer.admin("seed", {"day": day.isoformat(), "count": 50_000, "amount": 20_000})
    rows = peer.provider.list_transactions(day)
    first = await anext(rows)
    assert first.status is ProviderStatus.PAID
    assert (await peer.stats())["list_pages"] == 1
    count, total, references = 1, first.amount, {first.reference}
    async for row in rows:
        count += 1
        total += row.amount
        references.add(row.reference)
    assert count == 50_000
    assert len(references) == 50_000
    assert total == 50_000 * 20_000
    assert (await peer.stats())["list_pages"] == 5


async def test_day_list_includes_settled_payments(peer: PaymentPeer) -> None:
    """A payment settled through the sandbox appears in its day's list with its amount."""
    order = make_order()
    await peer.open(order)
    await peer.admin("pay", {"reference": order.reference})
    await peer.idle()
    today = dt.datetime.now(dt.UTC).astimezone(order.created_at.tzinfo).date()
    rows = [row async for row in peer.provider.list_transactions(today)]
    mine = [row for row in rows if row.reference == order.reference]
    assert len(mine) == 1
    assert (mine[0].amount, mine[0].status) == (order.amount, ProviderStatus.PAID)
