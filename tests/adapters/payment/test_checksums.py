"""Checksums against values computed by hand (sha256sum / openssl) from the exact joined strings."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.aliases import VIETNAM_TZ
from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.base import PaymentOrder
from adapters.payment.dvcqg import checksum as dvcqg
from adapters.payment.vnpay import checksum as vnpay
from adapters.payment.vnpay.client import VnpayProvider, order_info_text
from adapters.payment.vnpay.config import VnpayConfig
from tests.adapters.payment.conftest import make_order

DVCQG_KEY = "dvcqg-sandbox-hash-key"
VNPAY_SECRET = "VNPAYSANDBOXSECRETKEY0123456789"

CALLBACK = {
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


def test_dvcqg_callback_checksum_field_order() -> None:
    """The callback MaXacThuc is SHA-256 of LoaiBanTin|MaLoi|…|ThongTinGiaoDich|hash_key."""
    joined = (
        "KetQuaGiaoDich|00|LIENTHONG|HS0001|150000|VND|0000000001|SANDBOXBANK|"
        "20250301101500|Nop phi ho so|dvcqg-sandbox-hash-key"
    )
    assert dvcqg.checksum_input(CALLBACK, dvcqg.CALLBACK_FIELDS, DVCQG_KEY) == joined
    assert dvcqg.checksum(CALLBACK, dvcqg.CALLBACK_FIELDS, DVCQG_KEY) == (
        "a3a081f3830746ebb31d06d5acd87ed82d7ff20e038f2e2f2ee86d6989689dbe"
    )


def test_dvcqg_create_checksum_field_order() -> None:
    """The create MaXacThuc covers the message fields in protocols.md order, empty ones too."""
    message = {
        "LoaiBanTin": "TaoGiaoDich",
        "PhienBan": "1.0",
        "MaDoiTac": "LIENTHONG",
        "MaThamChieu": "HS0001",
        "SoTien": 150000,
        "LoaiHinhThanhToan": "1",
        "MaKenhThanhToan": "1",
        "MaThietBi": "1",
        "NgonNgu": "vi",
        "MaTienTe": "VND",
        "MaNganHang": "",
        "ThongTinGiaoDich": "Nop phi ho so",
        "ThoiGianGD": "20250301101500",
        "Ip": "127.0.0.1",
        "ThongTinBienLai": {"MaHoSo": "not covered"},
    }
    joined = (
        "TaoGiaoDich|1.0|LIENTHONG|HS0001|150000|1|1|1|vi|VND||Nop phi ho so|"
        "20250301101500|127.0.0.1|dvcqg-sandbox-hash-key"
    )
    assert dvcqg.checksum_input(message, dvcqg.CREATE_FIELDS, DVCQG_KEY) == joined
    assert dvcqg.checksum(message, dvcqg.CREATE_FIELDS, DVCQG_KEY) == (
        "ccf45ff395f3a4245c8b738962a5cc709ecbf6fd30d1da0bb879e803f51b6d79"
    )


def test_dvcqg_reply_and_bill_query_checksums() -> None:
    """Reply: MaLoi|MoTaLoi|MaDoiTac|MaThamChieu|ThoiGianGD|key; query: LoaiBanTin|PhienBan|…."""
    reply = {
        "MaLoi": "00",
        "MoTaLoi": "Xác nhận thành công",
        "MaDoiTac": "LIENTHONG",
        "MaThamChieu": "HS0001",
        "ThoiGianGD": "20250301101600",
    }
    assert dvcqg.checksum(reply, dvcqg.REPLY_FIELDS, DVCQG_KEY) == (
        "b1daae5b4a55bac6f25e97299396f7c71f3a69d336a7ff2d020247805a8164f0"
    )
    query = {
        "LoaiBanTin": "TraCuuGiaoDich",
        "PhienBan": "1.0",
        "MaDoiTac": "LIENTHONG",
        "MaThamChieu": "HS0001",
        "ThoiGianGD": "20250301110000",
    }
    assert dvcqg.checksum_input(query, dvcqg.BILL_QUERY_FIELDS, DVCQG_KEY) == (
        "TraCuuGiaoDich|1.0|LIENTHONG|HS0001|20250301110000|dvcqg-sandbox-hash-key"
    )
    assert dvcqg.checksum(query, dvcqg.BILL_QUERY_FIELDS, DVCQG_KEY) == (
        "df3caf8b178d031d39e201272e0ab06db9c4a48b1d7ed05c191bf053c9a633d5"
    )


def test_dvcqg_verify_accepts_upper_case_and_refuses_a_changed_field() -> None:
    """verify accepts the checksum in either hex case and refuses any changed covered field."""
    signed = dvcqg.sign(dict(CALLBACK), dvcqg.CALLBACK_FIELDS, DVCQG_KEY)
    upper = {**signed, "MaXacThuc": str(signed["MaXacThuc"]).upper()}
    assert dvcqg.verify(upper, dvcqg.CALLBACK_FIELDS, DVCQG_KEY)
    assert not dvcqg.verify({**signed, "SoTien": 150001}, dvcqg.CALLBACK_FIELDS, DVCQG_KEY)
    assert not dvcqg.verify(signed, dvcqg.CALLBACK_FIELDS, "another-key")
    assert not dvcqg.verify({**signed, "MaXacThuc": None}, dvcqg.CALLBACK_FIELDS, DVCQG_KEY)


PAY_PARAMS = {
    "vnp_Version": "2.1.0",
    "vnp_Command": "pay",
    "vnp_TmnCode": "LIENTHONG",
    "vnp_Amount": "15000000",
    "vnp_CurrCode": "VND",
    "vnp_TxnRef": "HS0001",
    "vnp_OrderInfo": "Nop phi ho so HS0001",
    "vnp_OrderType": "other",
    "vnp_Locale": "vn",
    "vnp_ReturnUrl": "http://127.0.0.1:8700/pay/return/vnpay",
    "vnp_IpAddr": "127.0.0.1",
    "vnp_CreateDate": "20250301101500",
}
PAY_CANONICAL = (
    "vnp_Amount=15000000&vnp_Command=pay&vnp_CreateDate=20250301101500&vnp_CurrCode=VND"
    "&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Nop+phi+ho+so+HS0001"
    "&vnp_OrderType=other&vnp_ReturnUrl=http%3A%2F%2F127.0.0.1%3A8700%2Fpay%2Freturn%2Fvnpay"
    "&vnp_TmnCode=LIENTHONG&vnp_TxnRef=HS0001&vnp_Version=2.1.0"
)
PAY_HASH = (
    "b96639220271bee54b84a2f687747d3cf4123a9fb4d1e707499cab9e7f1e967e"
    "33ff0c7de8a19ec210185e5741e1f3532685fd0ed7d07afde9455f6fb4394074"
)


def test_vnpay_secure_hash_sorted_url_encoded_with_plus() -> None:
    """vnp_SecureHash is HMAC-SHA512 over sorted, '+'-for-space URL-encoded k=v pairs."""
    assert vnpay.canonical_query(PAY_PARAMS) == PAY_CANONICAL
    assert vnpay.secure_hash(PAY_PARAMS, VNPAY_SECRET) == PAY_HASH


def test_vnpay_hash_ignores_secure_hash_fields_and_empty_values() -> None:
    """vnp_SecureHash, vnp_SecureHashType, empty values and non-vnp_ names are not signed."""
    noisy = {
        **PAY_PARAMS,
        "vnp_SecureHash": "x",
        "vnp_SecureHashType": "HmacSHA512",
        "vnp_BankCode": "",
        "utm_source": "mail",
    }
    assert vnpay.canonical_query(noisy) == PAY_CANONICAL
    assert vnpay.verify_params({**PAY_PARAMS, "vnp_SecureHash": PAY_HASH.upper()}, VNPAY_SECRET)
    tampered = {**PAY_PARAMS, "vnp_Amount": "15000100", "vnp_SecureHash": PAY_HASH}
    assert not vnpay.verify_params(tampered, VNPAY_SECRET)


def test_vnpay_querydr_hash_is_piped_in_the_published_order() -> None:
    """querydr hashes RequestId|Version|querydr|TmnCode|TxnRef|…|IpAddr|OrderInfo with HMAC."""
    message = {
        "vnp_RequestId": "a1b2c3",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": "LIENTHONG",
        "vnp_TxnRef": "HS0001",
        "vnp_TransactionDate": "20250301101500",
        "vnp_CreateDate": "20250301110000",
        "vnp_IpAddr": "127.0.0.1",
        "vnp_OrderInfo": "Truy van giao dich HS0001",
    }
    assert vnpay.piped(message, vnpay.QUERYDR_REQUEST_FIELDS) == (
        "a1b2c3|2.1.0|querydr|LIENTHONG|HS0001|20250301101500|20250301110000|127.0.0.1|"
        "Truy van giao dich HS0001"
    )
    assert vnpay.piped_hash(message, vnpay.QUERYDR_REQUEST_FIELDS, VNPAY_SECRET) == (
        "67d50d710095609a8700ed8dff8f136454eb569d16f3226b94adb5bf6c831d0e"
        "bf8998a8b754fa93d24c3a10cb490a76ff790f93e30ba4b34b46361790938957"
    )


async def test_vnpay_pay_url_carries_the_standard_parameters() -> None:
    """The pay URL has vnp_Amount ×100, GMT+7 dates, vnp_TxnRef = reference, and a valid hash."""
    session = make_session()
    try:
        provider = VnpayProvider(VnpayConfig(), session, Unguarded())
        created_utc = dt.datetime(2025, 3, 1, 3, 15, 0, tzinfo=dt.UTC)
        order = make_order(
            amount=150_000,
            created_at=created_utc,
            expires_at=created_utc + dt.timedelta(minutes=15),
        )
        params = provider.pay_params(order)
    finally:
        await session.close()
    assert params["vnp_Amount"] == "15000000"
    assert params["vnp_TxnRef"] == order.reference
    assert params["vnp_CreateDate"] == "20250301101500"
    assert params["vnp_ExpireDate"] == "20250301103000"
    assert params["vnp_OrderInfo"] == "Nop phi ho so dang ky kinh doanh"
    assert params["vnp_ReturnUrl"] == "http://127.0.0.1:8700/pay/return/vnpay"
    assert vnpay.verify_params(params, VNPAY_SECRET)


def test_order_info_folds_vietnamese_and_drops_special_characters() -> None:
    """vnp_OrderInfo folds accents (Đ→D) and replaces characters VNPay refuses."""
    assert order_info_text("Đóng lệ phí #12 (hồ sơ) & phí") == "Dong le phi 12 ho so phi"


def test_payment_order_refuses_bad_values_and_hides_the_payer() -> None:
    """PaymentOrder checks reference, amount and fee lines; repr shows no payer id or name."""
    order = make_order()
    assert "092099012345" not in repr(order)
    assert "Nguyễn" not in repr(order)
    for bad in (
        {"reference": "HS-0001"},
        {"reference": "A" * 21},
        {"amount": 0, "fee_lines": ()},
        {"currency": "USD"},
        {"created_at": dt.datetime(2025, 3, 1, 10, 15)},  # naive: no zone
    ):
        with pytest.raises(ValueError, match=r"\w"):
            make_order(**bad)
    with pytest.raises(ValueError, match="add up"):
        make_order(amount=150_000, fee_lines=order.fee_lines[:1])
    assert isinstance(order, PaymentOrder)
    assert order.created_at.tzinfo is VIETNAM_TZ
