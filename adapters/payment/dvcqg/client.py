"""The national payment platform as a :class:`~adapters.payment.base.PaymentProvider`.

Messages are JSON objects carrying ``MaXacThuc`` (see :mod:`.checksum`). The
platform posts the result callback as JSON; the payer's browser comes back with
the same fields and checksum in the query string (the sandbox's choice, since no
public source shows the platform's return), so :meth:`DvcqgProvider.parse_callback`
verifies both.

A callback is read in the same order as VNPay's (checksum → order → amount → state):
the adapter rejects only what it cannot verify (a body that is no JSON object, a
wrong or missing ``MaXacThuc``) or what is not a result callback at all (another
``LoaiBanTin``); every correctly signed result becomes a
:class:`~adapters.payment.base.CallbackResult` for the gateway to decide on:

- ``MaThamChieu`` is passed on as sent, whatever its shape (the gateway then finds
  no order); a ``MaDoiTac`` other than ours sets ``for_this_merchant`` False;
- a ``SoTien`` that is not a whole number of dong (a fraction such as ``150000.5``,
  no number at all, negative) or a ``MaTienTe`` other than VND sets ``whole_dong``
  False, the amount rounded down (0 when there is no number of dong);
- a ``MaLoi`` the configured result codes do not list is status ``unknown``, never
  ``failed``; an unreadable ``ThoiGianGD`` leaves ``paid_at`` None.

The platform's answer has two codes: ``00`` (accepted) and ``99`` (not accepted:
the platform delivers again). ``00`` is answered where VNPay's table closes an IPN
(confirmed, already confirmed, which includes a late result the gateway has put on
record); ``99`` everywhere VNPay answers 01, 04, 97 or 99 (not found, amount
mismatch, rejected, error), with ``MoTaLoi`` saying which. An order this gateway
does not know cannot be acknowledged as taken, and an amount that differs from the
bill stays unaccepted as VNPay's ``04`` does; the platform's redelivery of either
changes nothing here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any

import aiohttp
import orjson
import structlog

from adapters.errors import UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.payment.base import (
    REFERENCE_PATTERN,
    CallbackOutcome,
    CallbackRejected,
    CallbackResult,
    ColumnDayList,
    CreatedPayment,
    PaymentOrder,
    ProviderAnswer,
    RowFields,
    StatusResult,
    Transaction,
    check_provider_timestamp,
    page_count,
    page_rows,
    paid_time,
    provider_timestamp,
    stream_pages,
    vietnam_now,
    whole_dong,
)
from adapters.payment.config import ProviderStatus
from adapters.payment.dvcqg import checksum
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.transport import JsonExchange

UPSTREAM = "dvcqg"
ANSWER_OK = "00"
ANSWER_ERROR = "99"
_ANSWER_TEXT: dict[str, str] = {
    "confirmed": "Xác nhận thành công",
    "already_confirmed": "Giao dịch đã được xác nhận trước đó",
    "not_found": "Không tìm thấy giao dịch",
    "amount_mismatch": "Số tiền không khớp",
    "rejected": "Sai mã xác thực",
    "error": "Lỗi không xác định",
}

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_MAX_AMOUNT_DIGITS = 18

_log = structlog.get_logger("adapters.payment.dvcqg")


def reported_amount(value: object) -> tuple[int, bool]:
    """``(dong, whole)`` from a callback's ``SoTien``: rounded down; 0 if it is no amount.

    A JSON integer or a decimal string of digits is whole; a JSON decimal or a
    string such as ``"150000.50"`` is whole only without a fraction.
    """
    if isinstance(value, bool):
        return 0, False
    if isinstance(value, int):
        return (value, True) if value >= 0 else (0, False)
    number = value
    if isinstance(number, float) or (
        isinstance(number, str) and number.isascii() and _DECIMAL.fullmatch(number)
    ):
        number = Decimal(number)
    if not isinstance(number, Decimal) or not number.is_finite() or number < 0:
        return 0, False
    if number.adjusted() > _MAX_AMOUNT_DIGITS:  # "1E+999999999" is no bill
        return 0, False
    dong = int(number.to_integral_value(rounding=ROUND_FLOOR))
    return dong, number == dong


def fee_line_kind_code(kind: str) -> int:
    """``LoaiPhiLePhi``: 1 = phí (fee), 2 = lệ phí (charge)."""
    return 1 if kind == "fee" else 2


class DvcqgProvider(ColumnDayList):
    """Creates, verifies, answers, queries and lists payments on the national platform."""

    day_list_upstream = UPSTREAM
    day_list_time_field = "ThoiGianGD"

    name = "dvcqg"

    def __init__(
        self,
        config: DvcqgConfig,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        *,
        clock: Callable[[], dt.datetime] = vietnam_now,
    ) -> None:
        self._config = config
        self._hash_key = config.hash_key_value()
        self._clock = clock
        self._exchange = JsonExchange(
            session, guard, upstream=UPSTREAM, attempt_timeout=config.attempt_timeout_seconds
        )

    def _url(self, path: str) -> str:
        return self._config.base_url.rstrip("/") + path

    def create_message(self, order: PaymentOrder) -> dict[str, object]:
        """The signed create message for ``order`` (holds the payer's id: never log it)."""
        cfg = self._config
        message: dict[str, object] = {
            "LoaiBanTin": cfg.message_types.create,
            "PhienBan": cfg.version,
            "MaDoiTac": cfg.partner_code,
            "MaThamChieu": order.reference,
            "SoTien": order.amount,
            "LoaiHinhThanhToan": cfg.payment_type,
            "MaKenhThanhToan": cfg.channel,
            "MaThietBi": cfg.device,
            "NgonNgu": cfg.language,
            "MaTienTe": order.currency,
            "MaNganHang": cfg.bank_code,
            "ThongTinGiaoDich": order.description,
            "ThoiGianGD": provider_timestamp(order.created_at),
            "Ip": order.client_ip,
            "ThongTinBienLai": {
                "MaDichVu": order.procedure_code,
                "MaDonVi": order.agency_code,
                "TenDonVi": order.agency_name,
                "MaHoSo": order.dossier_code,
                "MaTTHC": order.procedure_code,
                "HoTenNguoiNop": order.payer_name,
                "SoCMNDNguoiNop": order.payer_id_number,
                "PhiLePhi": [
                    {
                        "LoaiPhiLePhi": fee_line_kind_code(line.kind),
                        "MaPhiLePhi": line.code,
                        "TenPhiLePhi": line.name,
                        "SoTien": line.amount,
                    }
                    for line in order.fee_lines
                ],
            },
        }
        return checksum.sign(message, checksum.CREATE_FIELDS, self._hash_key)

    async def create(self, order: PaymentOrder) -> CreatedPayment:
        """Register ``order``; the pay URL the platform answers (``MaLoi`` 00 only)."""
        reply = await self._exchange.post(
            "create",
            self._url(self._config.paths.create),
            self.create_message(order),
            max_bytes=self._config.max_reply_bytes,
        )
        reply = self._verified_reply(reply, checksum.REPLY_FIELDS, "create")
        code = str(reply.get("MaLoi", ""))
        if code != ANSWER_OK:
            raise UpstreamFault(
                "the platform refused the payment",
                code=code,
                server_side=False,
                upstream=UPSTREAM,
                operation="create",
            )
        pay_url = reply.get(self._config.pay_url_field)
        if (
            reply.get("MaThamChieu") != order.reference
            or not isinstance(pay_url, str)
            or not (pay_url.startswith(("https://", "http://")))
        ):
            raise UpstreamBadReply(
                "create reply lacks a pay URL for this reference",
                upstream=UPSTREAM,
                operation="create",
            )
        txn = reply.get("MaGiaoDich")
        _log.info("payment.provider.created", provider=self.name, reference=order.reference)
        return CreatedPayment(
            pay_url=pay_url, provider_reference=txn if isinstance(txn, str) else None
        )

    def _verified_reply(
        self, reply: Any, fields: tuple[str, ...], operation: str
    ) -> dict[str, Any]:
        if not isinstance(reply, dict):
            raise UpstreamBadReply("reply is not an object", upstream=UPSTREAM, operation=operation)
        if not checksum.verify(reply, fields, self._hash_key):
            raise UpstreamBadReply(
                "reply checksum does not match", upstream=UPSTREAM, operation=operation
            )
        return reply

    # -- callbacks ---------------------------------------------------------------------

    def _reply(self, code: str, text: str, reference: str) -> ProviderAnswer:
        message: dict[str, object] = {
            "MaLoi": code,
            "MoTaLoi": text,
            "MaDoiTac": self._config.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": provider_timestamp(self._clock()),
        }
        checksum.sign(message, checksum.REPLY_FIELDS, self._hash_key)
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        return ProviderAnswer(200, "application/json; charset=utf-8", body)

    def _reject(self, reason: str, kind: str, reference: str = "") -> CallbackRejected:
        answer = self._reply(
            ANSWER_ERROR, _ANSWER_TEXT["rejected" if kind == "bad_checksum" else "error"], reference
        )
        return CallbackRejected(reason, answer, kind=kind, upstream=UPSTREAM)

    def parse_callback(self, method: str, query: Mapping[str, str], body: bytes) -> CallbackResult:
        """Verify a result callback (POST JSON) or the payer's signed return (GET query)."""
        message: Any
        if method.upper() == "GET":
            message = dict(query)
        else:
            try:
                # Decimals stay as written, so a checksum over "150000.50" still matches.
                message = json.loads(body, parse_float=Decimal)
            except ValueError:
                raise self._reject("callback body is not JSON", "malformed") from None
        if not isinstance(message, dict):
            raise self._reject("callback is not an object", "malformed")
        ref = message.get("MaThamChieu")
        reference = "" if ref is None or isinstance(ref, dict | list) else str(ref)
        answer_ref = reference if REFERENCE_PATTERN.fullmatch(reference) else ""
        if not checksum.verify(message, checksum.CALLBACK_FIELDS, self._hash_key):
            raise self._reject("callback checksum does not match", "bad_checksum", answer_ref)
        if message.get("LoaiBanTin") != self._config.message_types.callback:
            raise self._reject("not a result callback", "malformed", answer_ref)
        amount, whole = reported_amount(message.get("SoTien"))
        if message.get("MaTienTe", "VND") != "VND":
            whole = False
        code = str(message.get("MaLoi", ""))
        status = self._config.result_codes.status_of(code)
        paid = status is ProviderStatus.PAID
        paid_at = paid_time(str(message.get("ThoiGianGD", ""))) if paid else None
        txn = message.get("MaGiaoDich")
        return CallbackResult(
            reference=reference,
            provider_txn_id=str(txn) if txn not in (None, "") else None,
            status=status,
            amount=amount,
            paid_at=paid_at,
            raw_code=code,
            verified=True,
            whole_dong=whole,
            for_this_merchant=message.get("MaDoiTac") == self._config.partner_code,
        )

    def answer_callback(
        self,
        result_or_error: CallbackResult | CallbackRejected | None,
        *,
        outcome: CallbackOutcome,
    ) -> ProviderAnswer:
        """``MaLoi`` 00 for confirmed / already confirmed, 99 for everything else (redelivered)."""
        if isinstance(result_or_error, CallbackRejected):
            return result_or_error.answer
        reference = result_or_error.reference if result_or_error is not None else ""
        code = ANSWER_OK if outcome in ("confirmed", "already_confirmed") else ANSWER_ERROR
        return self._reply(code, _ANSWER_TEXT[outcome], reference)

    # -- status and reconciliation -------------------------------------------------------

    async def query_status(self, reference: str, *, created_at: dt.datetime) -> StatusResult:
        """The platform's view of one payment (``created_at`` is not needed here)."""
        del created_at
        cfg = self._config
        message: dict[str, object] = {
            "LoaiBanTin": cfg.message_types.query,
            "PhienBan": cfg.version,
            "MaDoiTac": cfg.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": provider_timestamp(self._clock()),
        }
        checksum.sign(message, checksum.BILL_QUERY_FIELDS, self._hash_key)
        raw = await self._exchange.post(
            "query_status", self._url(cfg.paths.query), message, max_bytes=cfg.max_reply_bytes
        )
        reply = self._verified_reply(raw, checksum.CALLBACK_FIELDS, "query_status")
        code = str(reply.get("MaLoi", ""))
        if code == ANSWER_ERROR:
            raise UpstreamFault(
                "the platform could not answer the query",
                code=code,
                upstream=UPSTREAM,
                operation="query_status",
            )
        if reply.get("MaThamChieu") not in (reference, "", None):
            raise UpstreamBadReply(
                "reply is for another reference", upstream=UPSTREAM, operation="query_status"
            )
        status = cfg.result_codes.status_of(code)
        amount: int | None = None
        if status is not ProviderStatus.UNKNOWN:
            try:
                amount = whole_dong(reply.get("SoTien"))
            except ValueError:
                raise UpstreamBadReply(
                    "reply amount is invalid", upstream=UPSTREAM, operation="query_status"
                ) from None
        txn = reply.get("MaGiaoDich")
        return StatusResult(
            reference=reference,
            status=status,
            amount=amount,
            provider_txn_id=str(txn) if txn not in (None, "") else None,
            raw_code=code,
        )

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        """Stream the day's transactions, one page (``Trang``) in memory at a time."""
        async for transaction in stream_pages(partial(self._fetch_page, day), self._transaction):
            yield transaction

    async def _fetch_page(self, day: dt.date, page: int) -> tuple[list[Any], int]:
        cfg = self._config
        message: dict[str, object] = {
            "LoaiBanTin": cfg.message_types.day_list,
            "PhienBan": cfg.version,
            "MaDoiTac": cfg.partner_code,
            "NgayDoiSoat": day.strftime("%Y%m%d"),
            "Trang": page,
            "ThoiGianGD": provider_timestamp(self._clock()),
        }
        checksum.sign(message, checksum.DAY_LIST_FIELDS, self._hash_key)
        reply = await self._exchange.post(
            "list_transactions",
            self._url(cfg.paths.day_list),
            message,
            max_bytes=cfg.max_page_bytes,
            decode=orjson.loads,
        )
        return self._page_rows(reply)

    def _page_rows(self, reply: Any) -> tuple[list[Any], int]:
        rows = page_rows(reply, "DanhSach", upstream=UPSTREAM)
        if reply.get("MaLoi") != ANSWER_OK:
            raise UpstreamFault(
                "the platform refused the day list",
                code=str(reply.get("MaLoi")),
                server_side=False,
                upstream=UPSTREAM,
                operation="list_transactions",
            )
        return rows, page_count(reply, "TongSoTrang", upstream=UPSTREAM)

    def _row_fields(self, row: dict[str, Any]) -> RowFields:
        """:meth:`_transaction`'s checks and fields, its timestamp checked, not kept."""
        at_text = row.get("ThoiGianGD")
        txn = row.get("MaGiaoDich")
        reference = str(row["MaThamChieu"])
        txn_id = str(txn) if txn not in (None, "") else None
        amount = whole_dong(row.get("SoTien"))
        status = self._config.result_codes.status_of(str(row.get("MaLoi", "")))
        if isinstance(at_text, str) and at_text:
            check_provider_timestamp(at_text)
        return reference, txn_id, amount, status
