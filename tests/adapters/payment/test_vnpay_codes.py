"""Every code VNPay publishes maps to the state issue 9 names; unknown codes are never failed.

Expected states are written here from VNPay's published tables (pay API "Bảng mã
lỗi" and "Bảng mã trạng thái giao dịch"): debited-but-flagged, reversed and
refunded money are their own states, for people to look at.
"""

from __future__ import annotations

import pytest

from adapters.payment.base import ProviderStatus as S
from adapters.payment.vnpay import codes

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
