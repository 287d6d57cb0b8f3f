"""VNPay IPNs read as VNPay's reference code reads them: only a bad checksum is refused.

The reference ``vnpay_ipn.php`` / ``vnpay_ipn.jsp`` checks the checksum (97), then
looks the order up (01), then compares the amount (04), then the order's state
(02), and answers 99 only when its own code fails. So the adapter refuses nothing
correctly signed: it reports what the message says, flags what is off, and the
receiver (the gateway's decision, reduced) answers in that order.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.base import CallbackRejected, CallbackResult
from adapters.payment.config import ProviderStatus
from adapters.payment.vnpay import checksum
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig
from tests.adapters.payment.conftest import PaymentPeer, make_order

SECRET = "VNPAYSANDBOXSECRETKEY0123456789"

PAID_IPN = {
    "vnp_Amount": "15000000",
    "vnp_BankCode": "NCB",
    "vnp_BankTranNo": "VNP0000000001",
    "vnp_CardType": "ATM",
    "vnp_OrderInfo": "Nop phi ho so",
    "vnp_PayDate": "20250301101700",
    "vnp_ResponseCode": "00",
    "vnp_TmnCode": "LIENTHONG",
    "vnp_TransactionNo": "0000000001",
    "vnp_TransactionStatus": "00",
    "vnp_TxnRef": "HS0001",
}


@pytest.fixture
async def provider() -> Any:
    """A VNPay client with the sandbox's TmnCode and secret (no network needed)."""
    session = make_session()
    try:
        yield VnpayProvider(VnpayConfig(), session, Unguarded())
    finally:
        await session.close()


def signed(**changes: str) -> dict[str, str]:
    """The paid IPN with ``changes``, correctly signed."""
    params = {**PAID_IPN, **changes}
    params = {k: v for k, v in params.items() if v is not None}
    return {**params, "vnp_SecureHash": checksum.secure_hash(params, SECRET)}


def parse(provider: VnpayProvider, params: dict[str, str]) -> CallbackResult:
    return provider.parse_callback("GET", params, b"")


def test_a_paid_ipn_reads_as_paid(provider: VnpayProvider) -> None:
    """The plain case: paid, whole dong, our merchant, amount ÷ 100."""
    result = parse(provider, signed())
    assert (result.reference, result.status, result.amount) == (
        "HS0001",
        ProviderStatus.PAID,
        150_000,
    )
    assert (result.whole_dong, result.for_this_merchant, result.provider_txn_id) == (
        True,
        True,
        "0000000001",
    )


@pytest.mark.parametrize(
    "reference", ["HS-0001/x", "a" * 200, "Hồ sơ 1", "x&y=z~*'", "", "000000000000000000001"]
)
def test_any_signed_txn_ref_is_passed_on_as_sent(provider: VnpayProvider, reference: str) -> None:
    """Whatever its shape (punctuation, 200 chars, Vietnamese, empty), vnp_TxnRef is reported."""
    result = parse(provider, signed(vnp_TxnRef=reference))
    assert result.reference == reference
    assert result.status is ProviderStatus.PAID


def test_another_merchant_is_flagged_not_refused(provider: VnpayProvider) -> None:
    """A correctly signed IPN naming another vnp_TmnCode: for_this_merchant False, no rejection."""
    result = parse(provider, signed(vnp_TmnCode="OTHERSHOP"))
    assert result.for_this_merchant is False
    assert result.reference == "HS0001"


@pytest.mark.parametrize(
    ("vnp_amount", "amount", "whole"),
    [
        ("15000000", 150_000, True),
        ("15000050", 150_000, False),  # half a dong: rounded down, flagged
        ("15000099", 150_000, False),
        ("1", 0, False),
        ("0", 0, True),
        ("abc", 0, False),  # no number: the reference divides and compares, so 04 / 01
        ("-15000000", 0, False),
        ("+15000000", 0, False),
        (" 15000000", 0, False),
        ("١٥٠٠٠٠٠٠", 0, False),  # Arabic-Indic digits are no vnp_Amount
        ("9" * 5000, 0, False),  # longer than any amount (and than int() takes)
        ("", 0, False),  # an empty value is not signed: the same as absent
    ],
)
def test_amounts_that_are_not_whole_dong_are_flagged(
    provider: VnpayProvider, vnp_amount: str, amount: int, whole: bool
) -> None:
    """vnp_Amount not a multiple of 100, or no number at all: whole_dong False, never a raise."""
    result = parse(provider, signed(vnp_Amount=vnp_amount))
    assert (result.amount, result.whole_dong) == (amount, whole)


def test_an_unreadable_pay_date_leaves_paid_at_unset(provider: VnpayProvider) -> None:
    """The reference never reads vnp_PayDate; a bad one is no reason to refuse a payment."""
    result = parse(provider, signed(vnp_PayDate="yesterday"))
    assert (result.status, result.paid_at) == (ProviderStatus.PAID, None)


def test_unpublished_codes_read_as_unknown(provider: VnpayProvider) -> None:
    """A signed IPN with a code VNPay never published is 'unknown', not failed nor refused."""
    assert parse(provider, signed(vnp_ResponseCode="42")).status is ProviderStatus.UNKNOWN
    assert parse(provider, signed(vnp_TransactionStatus="03")).status is ProviderStatus.UNKNOWN


@pytest.mark.parametrize(
    "changes",
    [{}, {"vnp_TxnRef": "odd/ref"}, {"vnp_TmnCode": "OTHERSHOP"}, {"vnp_Amount": "abc"}],
)
def test_a_bad_checksum_is_refused_first_with_97(
    provider: VnpayProvider, changes: dict[str, str]
) -> None:
    """A wrong or missing vnp_SecureHash is answered 97, whatever else the message says."""
    params = signed(**changes)
    params["vnp_SecureHash"] = params["vnp_SecureHash"][:-1] + (
        "0" if params["vnp_SecureHash"][-1] != "0" else "1"
    )
    unsigned = {k: v for k, v in params.items() if k != "vnp_SecureHash"}
    for forged in (params, unsigned):
        with pytest.raises(CallbackRejected) as caught:
            parse(provider, forged)
        assert caught.value.kind == "bad_checksum"
        assert json.loads(caught.value.answer.body) == {
            "RspCode": "97",
            "Message": "Invalid Checksum",
        }


@pytest.mark.parametrize(
    ("outcome", "answer"),
    [
        ("confirmed", {"RspCode": "00", "Message": "Confirm Success"}),
        ("already_confirmed", {"RspCode": "02", "Message": "Order already confirmed"}),
        ("not_found", {"RspCode": "01", "Message": "Order not found"}),
        ("amount_mismatch", {"RspCode": "04", "Message": "Invalid amount"}),
        ("rejected", {"RspCode": "97", "Message": "Invalid Checksum"}),
        ("error", {"RspCode": "99", "Message": "Unknown error"}),
    ],
)
def test_answer_callback_maps_each_outcome_to_the_published_answer(
    provider: VnpayProvider, outcome: str, answer: dict[str, str]
) -> None:
    """confirmed 00, already confirmed 02, not found 01, amount 04, rejected 97, error 99."""
    result = parse(provider, signed())
    for given in (result, None):
        reply = provider.answer_callback(given, outcome=outcome)  # type: ignore[arg-type]
        assert (reply.status, reply.content_type) == (200, "application/json; charset=utf-8")
        assert json.loads(reply.body) == answer


async def test_an_ipn_for_an_unknown_odd_reference_is_answered_01(vnpay_peer: PaymentPeer) -> None:
    """Through the sandbox: an IPN naming an odd vnp_TxnRef gets 01, and VNPay redelivers."""
    odd = "HS-0001/ü x?&=~*'"
    await vnpay_peer.admin("misbehaviour", {"reference": odd})
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    events = await vnpay_peer.receiver.wait_for(3)
    assert {e.result.reference for e in events if e.result} == {odd}
    assert [e.answer_json()["RspCode"] for e in events] == ["01"] * 3
    stats = await vnpay_peer.idle()
    assert (stats["callbacks_refused"], stats.get("callbacks_closed", 0)) == (3, 0)


async def test_an_ipn_for_another_merchant_is_answered_01(vnpay_peer: PaymentPeer) -> None:
    """Through the sandbox: a signed IPN naming another TmnCode is 'not found' here (01)."""
    await vnpay_peer.admin("misbehaviour", {"merchant_code": "OTHERSHOP"})
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    events = await vnpay_peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert (events[0].result.reference, events[0].result.for_this_merchant) == (
        order.reference,
        False,
    )
    assert events[0].answer_json()["RspCode"] == "01"


async def test_a_fraction_of_a_dong_is_answered_04(vnpay_peer: PaymentPeer) -> None:
    """Through the sandbox: vnp_Amount = bill × 100 + 50 rounds down to the bill, yet gets 04."""
    await vnpay_peer.admin("misbehaviour", {"amount_hundredths": 50})
    order = make_order()
    await vnpay_peer.open(order)
    redirect = (await vnpay_peer.admin("pay", {"reference": order.reference}))["return_url"]
    events = await vnpay_peer.receiver.wait_for(1)
    result = events[0].result
    assert result is not None
    assert (result.amount, result.whole_dong) == (order.amount, False)
    assert events[0].answer_json()["RspCode"] == "04"
    assert f"vnp_Amount={order.amount * 100 + 50}&" in redirect


async def test_a_forged_ipn_is_answered_97_whatever_else_is_off(vnpay_peer: PaymentPeer) -> None:
    """Through the sandbox: a bad checksum wins over an odd reference, a merchant, a fraction."""
    await vnpay_peer.admin(
        "misbehaviour",
        {
            "bad_checksum": True,
            "reference": "odd/ref",
            "merchant_code": "OTHERSHOP",
            "amount_hundredths": 50,
        },
    )
    order = make_order()
    await vnpay_peer.open(order)
    await vnpay_peer.admin("pay", {"reference": order.reference})
    events = await vnpay_peer.receiver.wait_for(1)
    assert events[0].rejected is not None
    assert events[0].rejected.kind == "bad_checksum"
    assert events[0].answer_json() == {"RspCode": "97", "Message": "Invalid Checksum"}
