"""Every code VNPay publishes maps to the state issue 9 names; unknown codes are never failed.

Expected states are written here from VNPay's published tables (pay API "Bảng mã
lỗi" and "Bảng mã trạng thái giao dịch"): debited-but-flagged, reversed and
refunded money are their own states, for people to look at.
"""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.payment.config import ProviderStatus as S
from adapters.payment.vnpay import codes
from tests.adapters.payment.conftest import PaymentPeer, make_order

PUBLISHED_RESPONSE_CODES = {
    "00": S.PAID,
    "07": S.FLAGGED,
    "09": S.FAILED,
    "10": S.FAILED,
    "11": S.FAILED,
    "12": S.FAILED,
    "13": S.FAILED,
    "24": S.CANCELLED,
    "51": S.FAILED,
    "65": S.FAILED,
    "75": S.FAILED,
    "79": S.FAILED,
    "99": S.FAILED,
}
PUBLISHED_TRANSACTION_STATUSES = {
    "00": S.PAID,
    "01": S.PENDING,
    "02": S.FAILED,
    "04": S.REVERSED,
    "05": S.REFUNDED,
    "06": S.REFUNDED,
    "07": S.FLAGGED,
    "09": S.REFUNDED,
}


def test_the_tables_hold_exactly_the_published_codes() -> None:
    """One row per published code, none invented, each with VNPay's text."""
    assert set(codes.RESPONSE_CODES) == set(PUBLISHED_RESPONSE_CODES)
    assert set(codes.TRANSACTION_STATUSES) == set(PUBLISHED_TRANSACTION_STATUSES)
    assert set(codes.QUERYDR_RESPONSE_CODES) == {"00", "02", "03", "91", "94", "97", "99"}
    tables = (codes.RESPONSE_CODES, codes.TRANSACTION_STATUSES, codes.QUERYDR_RESPONSE_CODES)
    assert all(row.meaning for table in tables for row in table.values())
    assert codes.RESPONSE_CODES["07"].meaning.startswith("Trừ tiền thành công")
    assert codes.TRANSACTION_STATUSES["04"].meaning.startswith("Giao dịch đảo")


@pytest.mark.parametrize(("code", "status"), sorted(PUBLISHED_RESPONSE_CODES.items()))
def test_every_response_code_maps_to_its_state(code: str, status: S) -> None:
    """vnp_ResponseCode: 00 paid, 07 flagged (debited), 24 cancelled, the failures failed."""
    assert codes.response_status(code) is status


@pytest.mark.parametrize(("code", "status"), sorted(PUBLISHED_TRANSACTION_STATUSES.items()))
def test_every_transaction_status_maps_to_its_state(code: str, status: S) -> None:
    """vnp_TransactionStatus: 04 reversed, 05/06/09 refunded, 07 flagged, 01 pending."""
    assert codes.transaction_status(code) is status


@pytest.mark.parametrize("code", ["03", "08", "98", "0", "000", "ab", ""])
def test_unpublished_codes_are_unknown_never_failed(code: str) -> None:
    """A code VNPay does not publish means 'unknown' in both tables."""
    assert codes.response_status(code) is S.UNKNOWN
    assert codes.transaction_status(code) is S.UNKNOWN


@pytest.mark.parametrize(
    ("response_code", "transaction_code", "status"),
    [
        ("00", "00", S.PAID),
        ("07", "07", S.FLAGGED),
        ("07", "00", S.FLAGGED),  # debited and flagged, whatever VNPay's state says
        ("24", "07", S.FLAGGED),
        ("00", "04", S.REVERSED),
        ("00", "05", S.REFUNDED),
        ("51", "09", S.REFUNDED),
        ("24", "02", S.CANCELLED),
        ("51", "02", S.FAILED),
        ("99", "02", S.FAILED),
        ("99", "01", S.PENDING),
        ("00", "01", S.PENDING),
        ("00", "02", S.UNKNOWN),  # contradiction: paid at the bank, an error at VNPay
        ("51", "00", S.UNKNOWN),  # contradiction the other way
        ("08", "02", S.UNKNOWN),  # unpublished response code
        ("00", "03", S.UNKNOWN),  # unpublished transaction status
        ("00", "", S.PAID),  # no transaction status: the response code alone
        ("", "00", S.PAID),  # no response code: the transaction status alone
        ("", "", S.UNKNOWN),
    ],
)
def test_an_ipn_combines_its_two_codes(
    response_code: str, transaction_code: str, status: S
) -> None:
    """status_of: money that moved first, then 07, then unknown codes, then the state."""
    assert codes.status_of(response_code, transaction_code) is status
    assert codes.status_of(response_code, transaction_code or None) is status


@pytest.mark.parametrize(
    ("outcome", "rsp_code"),
    [
        ("confirmed", "00"),
        ("already_confirmed", "02"),
        ("not_found", "01"),
        ("amount_mismatch", "04"),
        ("rejected", "97"),
        ("error", "99"),
    ],
)
def test_ipn_answers_follow_the_published_table(outcome: str, rsp_code: str) -> None:
    """Each gateway outcome has the RspCode of VNPay's merchant answer table."""
    assert codes.IPN_ANSWERS[outcome][0] == rsp_code  # type: ignore[index]


@pytest.mark.parametrize(
    ("transaction_code", "status"),
    [
        ("04", S.REVERSED),
        ("05", S.REFUNDED),
        ("06", S.REFUNDED),
        ("07", S.FLAGGED),
        ("09", S.REFUNDED),
        ("03", S.UNKNOWN),
    ],
)
async def test_querydr_reports_money_that_moved_but_is_not_paid(
    vnpay_peer: PaymentPeer, transaction_code: str, status: S
) -> None:
    """querydr's vnp_TransactionStatus 04/05/06/07/09 (sandbox knob) read as the table says."""
    await vnpay_peer.admin(
        "misbehaviour", {"never_send": True, "transaction_status": transaction_code}
    )
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    result = await vnpay_peer.provider.query_status(order.reference, created_at=order.created_at)
    assert (result.status, result.raw_code, result.amount) == (
        status,
        transaction_code,
        order.amount,
    )


async def test_ipn_with_response_code_07_is_flagged(vnpay_peer: PaymentPeer) -> None:
    """An IPN and a return saying 07 (debited, suspected fraud) read as flagged, not pending."""
    await vnpay_peer.admin("misbehaviour", {"response_code": "07"})
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    events = await vnpay_peer.receiver.wait_for(1)
    result = events[0].result
    assert result is not None
    assert (result.status, result.raw_code, result.amount) == (S.FLAGGED, "07", order.amount)
    assert result.paid_at is not None


async def test_ipn_with_a_reversed_transaction_is_reversed(vnpay_peer: PaymentPeer) -> None:
    """An IPN with vnp_TransactionStatus 04 reads as reversed, and so does querydr."""
    await vnpay_peer.admin("misbehaviour", {"transaction_status": "04"})
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    events = await vnpay_peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert events[0].result.status is S.REVERSED
    queried = await vnpay_peer.provider.query_status(order.reference, created_at=order.created_at)
    assert queried.status is S.REVERSED


async def test_day_list_rows_read_through_the_table(vnpay_peer: PaymentPeer) -> None:
    """A refunded payment's day-list row is refunded, not failed."""
    await vnpay_peer.admin("misbehaviour", {"never_send": True, "transaction_status": "06"})
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    today = dt.datetime.now(dt.UTC).astimezone(order.created_at.tzinfo).date()
    rows = [row async for row in vnpay_peer.provider.list_transactions(today)]
    mine = [row for row in rows if row.reference == order.reference]
    assert [row.status for row in mine] == [S.REFUNDED]
