"""Every code VNPay 2.1.0 publishes, with its published meaning and what it means here.

One table per code family, each row the code, VNPay's own text (Vietnamese, as
VNPay publishes it in its pay and querydr documentation) and the
:class:`~adapters.payment.base.ProviderStatus` it maps to:

- :data:`RESPONSE_CODES`: ``vnp_ResponseCode`` of an IPN and of the payer's return
  (the outcome of the payment at the bank);
- :data:`TRANSACTION_STATUSES`: ``vnp_TransactionStatus`` of an IPN, a return, a
  ``querydr`` reply and a day-list row (the state of the transaction at VNPay);
- :data:`QUERYDR_RESPONSE_CODES`: ``vnp_ResponseCode`` of a ``querydr`` reply (the
  outcome of the query itself, not of the payment);
- :data:`IPN_ANSWERS`: the ``RspCode`` the merchant answers an IPN with.

Money that moved but is not simply paid (debited and flagged, reversed, refunded)
maps to ``flagged``, ``reversed`` or ``refunded``: a case for people, never a silent
``pending`` or ``failed``. A code VNPay does not publish maps to ``unknown``: a
status query or reconciliation changes nothing on it; a signed IPN carrying it is
handled as a failure, as VNPay's reference handles any code but success
(:mod:`gateway.payments.service`), so a paid payment stays paid and a later
``paid`` moves a failed one to review.

How an IPN's two codes combine (:func:`status_of`), first rule that applies:

1. one of the two codes is missing (or empty) → the other one's status alone
   (``unknown`` when both are);
2. the transaction status is ``flagged``, ``reversed`` or ``refunded`` → that;
3. the response code is 07 (debited, flagged) → ``flagged``;
4. either code is not published → ``unknown``;
5. transaction status 01 (not complete) → ``pending``;
6. transaction status 00 → ``paid`` with response code 00, else ``unknown`` (the
   codes contradict each other: paid at VNPay, not at the bank);
7. transaction status 02 (error) → the response code's ``failed`` or ``cancelled``
   (24), or ``unknown`` if the response code says 00 (a contradiction again).

``querydr`` carries only the transaction status (its response code is the query's):
:func:`transaction_status` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from adapters.payment.base import CallbackOutcome
from adapters.payment.config import ProviderStatus


@dataclass(frozen=True)
class PublishedCode:
    """One published code: VNPay's text for it and the status it means."""

    meaning: str
    status: ProviderStatus


_PAID = ProviderStatus.PAID
_PENDING = ProviderStatus.PENDING
_FAILED = ProviderStatus.FAILED
_CANCELLED = ProviderStatus.CANCELLED
_FLAGGED = ProviderStatus.FLAGGED
_REVERSED = ProviderStatus.REVERSED
_REFUNDED = ProviderStatus.REFUNDED
_UNKNOWN = ProviderStatus.UNKNOWN

#: ``vnp_ResponseCode`` of an IPN / return ("Bảng mã lỗi" of the pay API).
RESPONSE_CODES: Mapping[str, PublishedCode] = MappingProxyType(
    {
        "00": PublishedCode("Giao dịch thành công", _PAID),
        "07": PublishedCode(
            "Trừ tiền thành công. Giao dịch bị nghi ngờ (liên quan tới lừa đảo, "
            "giao dịch bất thường).",
            _FLAGGED,
        ),
        "09": PublishedCode(
            "Giao dịch không thành công do: Thẻ/Tài khoản của khách hàng chưa đăng ký "
            "dịch vụ InternetBanking tại ngân hàng.",
            _FAILED,
        ),
        "10": PublishedCode(
            "Giao dịch không thành công do: Khách hàng xác thực thông tin thẻ/tài khoản "
            "không đúng quá 3 lần",
            _FAILED,
        ),
        "11": PublishedCode(
            "Giao dịch không thành công do: Đã hết hạn chờ thanh toán. Xin quý khách vui "
            "lòng thực hiện lại giao dịch.",
            _FAILED,
        ),
        "12": PublishedCode(
            "Giao dịch không thành công do: Thẻ/Tài khoản của khách hàng bị khóa.", _FAILED
        ),
        "13": PublishedCode(
            "Giao dịch không thành công do Quý khách nhập sai mật khẩu xác thực giao dịch "
            "(OTP). Xin quý khách vui lòng thực hiện lại giao dịch.",
            _FAILED,
        ),
        "24": PublishedCode("Giao dịch không thành công do: Khách hàng hủy giao dịch", _CANCELLED),
        "51": PublishedCode(
            "Giao dịch không thành công do: Tài khoản của quý khách không đủ số dư để thực "
            "hiện giao dịch.",
            _FAILED,
        ),
        "65": PublishedCode(
            "Giao dịch không thành công do: Tài khoản của Quý khách đã vượt quá hạn mức "
            "giao dịch trong ngày.",
            _FAILED,
        ),
        "75": PublishedCode("Ngân hàng thanh toán đang bảo trì.", _FAILED),
        "79": PublishedCode(
            "Giao dịch không thành công do: KH nhập sai mật khẩu thanh toán quá số lần quy "
            "định. Xin quý khách vui lòng thực hiện lại giao dịch",
            _FAILED,
        ),
        "99": PublishedCode(
            "Các lỗi khác (lỗi còn lại, không có trong danh sách mã lỗi đã liệt kê)", _FAILED
        ),
    }
)

#: ``vnp_TransactionStatus`` ("Bảng mã trạng thái giao dịch").
TRANSACTION_STATUSES: Mapping[str, PublishedCode] = MappingProxyType(
    {
        "00": PublishedCode("Giao dịch thanh toán thành công", _PAID),
        "01": PublishedCode("Giao dịch chưa hoàn tất", _PENDING),
        "02": PublishedCode("Giao dịch bị lỗi", _FAILED),
        "04": PublishedCode(
            "Giao dịch đảo (Khách hàng đã bị trừ tiền tại Ngân hàng nhưng GD chưa thành "
            "công ở VNPAY)",
            _REVERSED,
        ),
        "05": PublishedCode("VNPAY đang xử lý giao dịch này (GD hoàn tiền)", _REFUNDED),
        "06": PublishedCode(
            "VNPAY đã gửi yêu cầu hoàn tiền sang Ngân hàng (GD hoàn tiền)", _REFUNDED
        ),
        "07": PublishedCode("Giao dịch bị nghi ngờ gian lận", _FLAGGED),
        "09": PublishedCode("GD Hoàn trả bị từ chối", _REFUNDED),
    }
)


@dataclass(frozen=True)
class QueryCode:
    """A ``querydr`` result code: its text, and how the adapter treats the reply."""

    meaning: str
    #: ``answer`` (read the transaction), ``not_found``, ``credentials`` (our
    #: TmnCode or secret is wrong), ``request`` (our request is wrong) or ``server``.
    kind: str


#: ``vnp_ResponseCode`` of a ``querydr`` reply ("Bảng mã lỗi" of the querydr API).
QUERYDR_RESPONSE_CODES: Mapping[str, QueryCode] = MappingProxyType(
    {
        "00": QueryCode("Yêu cầu thành công", "answer"),
        "02": QueryCode("Mã định danh kết nối không hợp lệ (kiểm tra lại TmnCode)", "credentials"),
        "03": QueryCode("Dữ liệu gửi sang không đúng định dạng", "request"),
        "91": QueryCode("Không tìm thấy giao dịch yêu cầu", "not_found"),
        "94": QueryCode(
            "Yêu cầu trùng lặp, duplicate request trong thời gian giới hạn của API", "request"
        ),
        "97": QueryCode("Checksum không hợp lệ", "credentials"),
        "99": QueryCode(
            "Các lỗi khác (lỗi còn lại, không có trong danh sách mã lỗi đã liệt kê)", "server"
        ),
    }
)

#: The IPN answer (``RspCode``, ``Message``) for each outcome; only 00 and 02 close an IPN.
IPN_ANSWERS: Mapping[CallbackOutcome, tuple[str, str]] = MappingProxyType(
    {
        "confirmed": ("00", "Confirm Success"),
        "not_found": ("01", "Order not found"),
        "already_confirmed": ("02", "Order already confirmed"),
        "amount_mismatch": ("04", "Invalid amount"),
        "rejected": ("97", "Invalid Checksum"),
        "error": ("99", "Unknown error"),
    }
)

_MONEY_MOVED = frozenset({_FLAGGED, _REVERSED, _REFUNDED})


def response_status(code: str) -> ProviderStatus:
    """The status a ``vnp_ResponseCode`` means (``unknown`` if VNPay publishes no such code)."""
    published = RESPONSE_CODES.get(code)
    return published.status if published is not None else _UNKNOWN


def transaction_status(code: str) -> ProviderStatus:
    """The status a ``vnp_TransactionStatus`` means (``unknown`` if not published)."""
    published = TRANSACTION_STATUSES.get(code)
    return published.status if published is not None else _UNKNOWN


def status_of(response_code: str | None, transaction_code: str | None) -> ProviderStatus:
    """The status an IPN, a return or a day-list row means (rules in the module doc)."""
    if not transaction_code:
        return response_status(response_code) if response_code else _UNKNOWN
    by_transaction = transaction_status(transaction_code)
    if not response_code:
        return by_transaction
    by_response = response_status(response_code)
    if by_transaction in _MONEY_MOVED:
        return by_transaction
    if by_response is _FLAGGED:
        return _FLAGGED
    if _UNKNOWN in (by_response, by_transaction):
        return _UNKNOWN
    if by_transaction is _PENDING:
        return _PENDING
    if by_transaction is _PAID:
        return _PAID if by_response is _PAID else _UNKNOWN
    return _UNKNOWN if by_response is _PAID else by_response
