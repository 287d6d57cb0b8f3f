"""The platform's callbacks get the same review as VNPay's IPNs: only the unverifiable is refused.

A correctly signed result callback is reported as it is, with what is off flagged
(another partner, a reference of any shape, an amount that is no whole number of
dong, a code nobody listed). The answer has two codes: 00 where VNPay's table
closes an IPN (confirmed, already confirmed) and 99 elsewhere, ``MoTaLoi`` saying
why. Checksums are built with :func:`checksum.sign`, itself pinned against
hand-computed digests in ``test_checksums.py``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.base import CallbackRejected, CallbackResult
from adapters.payment.config import ProviderStatus
from adapters.payment.dvcqg import checksum
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import SANDBOX_HASH_KEY, DvcqgConfig
from tests.adapters.payment.conftest import PaymentPeer, make_order

PAID = {
    "LoaiBanTin": "KetQuaGiaoDich",
    "MaLoi": "00",
    "MaDoiTac": "LIENTHONG",
    "MaThamChieu": "HS0001",
    "SoTien": 150000,
    "MaTienTe": "VND",
    "MaGiaoDich": "0000000001",
    "MaNganHang": "SANDBOXBANK",
    "ThoiGianGD": "20250301101500",
    "ThongTinGiaoDich": "Nop phi ho so",
}


@pytest.fixture
async def provider() -> Any:
    """A platform client with the sandbox's partner code and key (no network needed)."""
    session = make_session()
    try:
        yield DvcqgProvider(DvcqgConfig(), session, Unguarded())
    finally:
        await session.close()


def signed(**changes: object) -> dict[str, object]:
    return checksum.sign({**PAID, **changes}, checksum.CALLBACK_FIELDS, SANDBOX_HASH_KEY)


def post(provider: DvcqgProvider, body: bytes | dict[str, object]) -> CallbackResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return provider.parse_callback("POST", {}, raw)


def test_a_paid_callback_reads_as_paid(provider: DvcqgProvider) -> None:
    """The plain case: paid, whole dong, our partner."""
    result = post(provider, signed())
    assert (result.reference, result.status, result.amount, result.whole_dong) == (
        "HS0001",
        ProviderStatus.PAID,
        150_000,
        True,
    )
    assert result.for_this_merchant


@pytest.mark.parametrize("reference", ["HS-0001/x", "Hồ sơ 1", "", "a" * 100])
def test_any_signed_reference_is_passed_on_as_sent(provider: DvcqgProvider, reference: str) -> None:
    """MaThamChieu of any shape is reported (it used to be refused as malformed, answered 99)."""
    assert post(provider, signed(MaThamChieu=reference)).reference == reference


def test_another_partner_is_flagged_not_refused(provider: DvcqgProvider) -> None:
    """A signed callback naming another MaDoiTac: for_this_merchant False."""
    assert post(provider, signed(MaDoiTac="KHAC")).for_this_merchant is False


@pytest.mark.parametrize(
    ("raw_amount", "amount", "whole"),
    [
        ("150000", 150_000, True),  # a JSON integer
        ("150000.5", 150_000, False),  # a JSON decimal: rounded down, flagged
        ("150000.50", 150_000, False),
        ("150000.00", 150_000, True),
        ("-1", 0, False),
        ('"abc"', 0, False),
        ('"150000"', 150_000, True),
        ('"150000.25"', 150_000, False),
        ("null", 0, False),
        ("true", 0, False),
        ("1" + "0" * 30 + ".5", 0, False),  # no bill has 31 digits
    ],
)
def test_amounts_that_are_not_whole_dong_are_flagged(
    provider: DvcqgProvider, raw_amount: str, amount: int, whole: bool
) -> None:
    """SoTien as the platform wrote it; its checksum covers the number as written."""
    message = {**PAID, "SoTien": "@@"}
    joined = checksum.checksum_input(message, checksum.CALLBACK_FIELDS, SANDBOX_HASH_KEY)
    covered = {"null": "", "true": "True"}.get(raw_amount, raw_amount.strip('"'))
    digest = hashlib.sha256(joined.replace("@@", covered).encode()).hexdigest()
    body = json.dumps({**message, "MaXacThuc": digest}).replace('"@@"', raw_amount)
    result = post(provider, body.encode())
    assert (result.amount, result.whole_dong) == (amount, whole)


def test_a_decimal_amount_on_the_signed_return_is_flagged(provider: DvcqgProvider) -> None:
    """The payer's signed return carries SoTien as text: '150000.5' is no whole dong either."""
    query = {k: str(v) for k, v in signed(SoTien="150000.5").items()}
    result = provider.parse_callback("GET", query, b"")
    assert (result.amount, result.whole_dong) == (150_000, False)


def test_another_currency_is_no_whole_dong(provider: DvcqgProvider) -> None:
    """MaTienTe other than VND: the amount is no number of dong to compare with the bill."""
    assert post(provider, signed(MaTienTe="USD")).whole_dong is False


def test_an_unlisted_result_code_is_unknown_never_failed(provider: DvcqgProvider) -> None:
    """A MaLoi the configured result codes do not list is 'unknown'; the listed failure fails."""
    assert post(provider, signed(MaLoi="42")).status is ProviderStatus.UNKNOWN
    assert post(provider, signed(MaLoi="03")).status is ProviderStatus.FAILED


def test_an_unreadable_time_leaves_paid_at_unset(provider: DvcqgProvider) -> None:
    """A bad ThoiGianGD on a paid callback is no reason to refuse it."""
    result = post(provider, signed(ThoiGianGD="hom qua"))
    assert (result.status, result.paid_at) == (ProviderStatus.PAID, None)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"not json", "malformed"),
        (b"[1, 2]", "malformed"),
        (json.dumps({**PAID, "MaXacThuc": "0" * 64}).encode(), "bad_checksum"),
        (json.dumps(PAID).encode(), "bad_checksum"),
        (json.dumps(signed(LoaiBanTin="TraCuuGiaoDich")).encode(), "malformed"),
    ],
)
def test_only_what_cannot_be_verified_or_is_no_result_is_refused(
    provider: DvcqgProvider, body: bytes, kind: str
) -> None:
    """Not JSON, not an object, a wrong or missing MaXacThuc, another LoaiBanTin: 99, refused."""
    with pytest.raises(CallbackRejected) as caught:
        post(provider, body)
    answer = json.loads(caught.value.answer.body)
    assert (caught.value.kind, answer["MaLoi"]) == (kind, "99")
    assert checksum.verify(answer, checksum.REPLY_FIELDS, SANDBOX_HASH_KEY)


@pytest.mark.parametrize(
    ("outcome", "code", "text"),
    [
        ("confirmed", "00", "Xác nhận thành công"),
        ("already_confirmed", "00", "Giao dịch đã được xác nhận trước đó"),
        ("not_found", "99", "Không tìm thấy giao dịch"),
        ("amount_mismatch", "99", "Số tiền không khớp"),
        ("error", "99", "Lỗi không xác định"),
    ],
)
def test_answers_close_only_where_vnpay_would(
    provider: DvcqgProvider, outcome: str, code: str, text: str
) -> None:
    """00 for confirmed / already confirmed, else 99 with the reason; signed, reference echoed."""
    result = post(provider, signed(MaThamChieu="HS-odd/1"))
    reply = provider.answer_callback(result, outcome=outcome)  # type: ignore[arg-type]
    answer = json.loads(reply.body)
    assert (answer["MaLoi"], answer["MoTaLoi"], answer["MaThamChieu"]) == (code, text, "HS-odd/1")
    assert checksum.verify(answer, checksum.REPLY_FIELDS, SANDBOX_HASH_KEY)


async def test_a_callback_for_an_unknown_odd_reference_is_not_found(
    dvcqg_peer: PaymentPeer,
) -> None:
    """Through the sandbox: an odd MaThamChieu reaches the decision and is answered not found."""
    await dvcqg_peer.admin("misbehaviour", {"reference": "HS-0001/ü x"})
    order = make_order()
    await dvcqg_peer.open(order)
    await dvcqg_peer.admin("pay", {"reference": order.reference})
    events = await dvcqg_peer.receiver.wait_for(1)
    assert (events[0].outcome, events[0].rejected) == ("not_found", None)
    answer = events[0].answer_json()
    assert (answer["MaLoi"], answer["MoTaLoi"], answer["MaThamChieu"]) == (
        "99",
        "Không tìm thấy giao dịch",
        "HS-0001/ü x",
    )


async def test_a_callback_for_another_partner_is_not_found(dvcqg_peer: PaymentPeer) -> None:
    """Through the sandbox: a signed callback naming another MaDoiTac is not found here."""
    await dvcqg_peer.admin("misbehaviour", {"merchant_code": "KHAC"})
    order = make_order()
    await dvcqg_peer.open(order)
    await dvcqg_peer.admin("pay", {"reference": order.reference})
    events = await dvcqg_peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert events[0].result.for_this_merchant is False
    assert events[0].outcome == "not_found"


async def test_a_fraction_of_a_dong_is_an_amount_mismatch(dvcqg_peer: PaymentPeer) -> None:
    """Through the sandbox: SoTien = bill + 0.5 rounds down to the bill, yet is a mismatch."""
    await dvcqg_peer.admin("misbehaviour", {"amount_hundredths": 50})
    order = make_order()
    await dvcqg_peer.open(order)
    await dvcqg_peer.admin("pay", {"reference": order.reference})
    events = await dvcqg_peer.receiver.wait_for(1)
    assert events[0].result is not None
    assert (events[0].result.amount, events[0].result.whole_dong) == (order.amount, False)
    assert events[0].outcome == "amount_mismatch"
