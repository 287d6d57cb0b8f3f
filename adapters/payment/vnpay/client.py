"""VNPay 2.1.0 as a :class:`~adapters.payment.base.PaymentProvider`.

The pay URL is built locally (no call to VNPay): the standard ``vnp_*`` parameters
with ``vnp_Amount`` = amount × 100, dates ``yyyyMMddHHmmss`` in GMT+7 and
``vnp_TxnRef`` = the gateway's reference, signed with HMAC-SHA512. The IPN arrives
as a GET and is answered ``{RspCode, Message}``; the payer's return carries the same
signed parameters, so :meth:`VnpayProvider.parse_callback` verifies both.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import structlog

from adapters.errors import UpstreamAuthError, UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.payment.base import (
    REFERENCE_PATTERN,
    CallbackOutcome,
    CallbackRejected,
    CallbackResult,
    CreatedPayment,
    PaymentOrder,
    ProviderAnswer,
    ProviderStatus,
    StatusResult,
    Transaction,
    parse_provider_timestamp,
    provider_timestamp,
    stream_pages,
    vietnam_now,
    whole_dong,
)
from adapters.payment.transport import JsonExchange
from adapters.payment.vnpay import checksum
from adapters.payment.vnpay.config import VnpayConfig

UPSTREAM = "vnpay"
#: IPN answers (``RspCode``, ``Message``) by the gateway's outcome.
IPN_ANSWERS: dict[str, tuple[str, str]] = {
    "confirmed": ("00", "Confirm Success"),
    "not_found": ("01", "Order not found"),
    "already_confirmed": ("02", "Order already confirmed"),
    "amount_mismatch": ("04", "Invalid amount"),
    "rejected": ("97", "Invalid Checksum"),
    "error": ("99", "Unknown error"),
}
#: ``vnp_TransactionStatus`` → status (07 = held as suspected fraud: not final yet).
TRANSACTION_STATUS: dict[str, ProviderStatus] = {
    "00": ProviderStatus.PAID,
    "01": ProviderStatus.PENDING,
    "02": ProviderStatus.FAILED,
    "04": ProviderStatus.REVERSED,
    "07": ProviderStatus.PENDING,
}
#: ``vnp_ResponseCode`` of the payer cancelling on VNPay's page.
RESPONSE_CANCELLED = "24"
QUERY_NOT_FOUND = "91"

_ORDER_INFO_ALLOWED = re.compile(r"[^A-Za-z0-9 .,:_-]")
_log = structlog.get_logger("adapters.payment.vnpay")


def order_info_text(description: str, limit: int = 255) -> str:
    """``vnp_OrderInfo``: Vietnamese without accents and without special characters."""
    folded = description.replace("Đ", "D").replace("đ", "d")
    folded = "".join(
        ch for ch in unicodedata.normalize("NFD", folded) if unicodedata.category(ch) != "Mn"
    )
    cleaned = " ".join(_ORDER_INFO_ALLOWED.sub(" ", folded).split())
    return cleaned[:limit] or "Thanh toan"


def status_of(response_code: str, transaction_status: str) -> ProviderStatus:
    """The status an IPN / return / querydr reply means."""
    if response_code == RESPONSE_CANCELLED:
        return ProviderStatus.CANCELLED
    status = TRANSACTION_STATUS.get(transaction_status, ProviderStatus.FAILED)
    if status is ProviderStatus.PAID and response_code != "00":
        return ProviderStatus.FAILED
    return status


def amount_from_vnpay(value: object) -> int:
    """Whole dong from ``vnp_Amount`` (× 100); ``ValueError`` if not a whole dong amount."""
    hundredths = whole_dong(value)
    if hundredths % 100:
        raise ValueError("vnp_Amount is not whole dong")
    return hundredths // 100


class VnpayProvider:
    """Builds pay URLs, verifies IPNs and returns, answers IPNs, queries and lists payments."""

    name = "vnpay"

    def __init__(
        self,
        config: VnpayConfig,
        session: aiohttp.ClientSession,
        guard: CallGuard,
        *,
        clock: Callable[[], dt.datetime] = vietnam_now,
        request_ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._config = config
        self._secret = config.hash_secret_value()
        self._clock = clock
        self._request_ids = request_ids
        self._exchange = JsonExchange(
            session, guard, upstream=UPSTREAM, attempt_timeout=config.attempt_timeout
        )

    def pay_params(self, order: PaymentOrder) -> dict[str, str]:
        """The signed ``vnp_*`` parameters of the pay URL."""
        cfg = self._config
        params = {
            "vnp_Version": cfg.version,
            "vnp_Command": "pay",
            "vnp_TmnCode": cfg.tmn_code,
            "vnp_Amount": str(order.amount * 100),
            "vnp_CurrCode": cfg.currency,
            "vnp_TxnRef": order.reference,
            "vnp_OrderInfo": order_info_text(order.description),
            "vnp_OrderType": cfg.order_type,
            "vnp_Locale": cfg.locale,
            "vnp_ReturnUrl": cfg.return_url,
            "vnp_IpAddr": order.client_ip,
            "vnp_CreateDate": provider_timestamp(order.created_at),
            "vnp_ExpireDate": provider_timestamp(order.expires_at),
        }
        if cfg.bank_code:
            params["vnp_BankCode"] = cfg.bank_code
        params["vnp_SecureHash"] = checksum.secure_hash(params, self._secret)
        return params

    async def create(self, order: PaymentOrder) -> CreatedPayment:
        """The pay URL (built locally; VNPay learns of the order when the payer opens it)."""
        params = self.pay_params(order)
        query = checksum.canonical_query(params)
        url = f"{self._config.pay_url}?{query}&vnp_SecureHash={params['vnp_SecureHash']}"
        _log.info("payment.provider.created", provider=self.name, reference=order.reference)
        return CreatedPayment(pay_url=url, provider_reference=None)

    # -- IPN and return ------------------------------------------------------------------

    def _answer(self, outcome: str) -> ProviderAnswer:
        code, message = IPN_ANSWERS[outcome]
        body = json.dumps({"RspCode": code, "Message": message}).encode("ascii")
        return ProviderAnswer(200, "application/json", body)

    def _reject(self, reason: str, kind: str) -> CallbackRejected:
        outcome = "rejected" if kind == "bad_checksum" else "error"
        return CallbackRejected(reason, self._answer(outcome), kind=kind, upstream=UPSTREAM)

    def parse_callback(self, method: str, query: Mapping[str, str], body: bytes) -> CallbackResult:
        """Verify an IPN or the payer's return (both signed ``vnp_*`` query parameters)."""
        del method, body  # VNPay sends everything in the query string
        params = {k: v for k, v in query.items() if isinstance(v, str)}
        if not checksum.verify_params(params, self._secret):
            raise self._reject("vnp_SecureHash does not match", "bad_checksum")
        if params.get("vnp_TmnCode") != self._config.tmn_code:
            raise self._reject("IPN is for another merchant", "wrong_partner")
        reference = params.get("vnp_TxnRef", "")
        if not REFERENCE_PATTERN.fullmatch(reference):
            raise self._reject("vnp_TxnRef is invalid", "malformed")
        try:
            amount = amount_from_vnpay(params.get("vnp_Amount"))
        except ValueError:
            raise self._reject("vnp_Amount is invalid", "malformed") from None
        response_code = params.get("vnp_ResponseCode", "")
        status = status_of(response_code, params.get("vnp_TransactionStatus", ""))
        paid_at: dt.datetime | None = None
        if status is ProviderStatus.PAID:
            try:
                paid_at = parse_provider_timestamp(params.get("vnp_PayDate", ""))
            except ValueError:
                raise self._reject("vnp_PayDate is invalid", "malformed") from None
        txn = params.get("vnp_TransactionNo", "")
        return CallbackResult(
            reference=reference,
            provider_txn_id=txn if txn not in ("", "0") else None,
            status=status,
            amount=amount,
            paid_at=paid_at,
            raw_code=response_code,
            verified=True,
        )

    def answer_callback(
        self,
        result_or_error: CallbackResult | CallbackRejected | None,
        *,
        outcome: CallbackOutcome,
    ) -> ProviderAnswer:
        """``{RspCode, Message}``: 00, 01, 02, 04, 97, 99 (only 00 and 02 close the IPN)."""
        if isinstance(result_or_error, CallbackRejected):
            return result_or_error.answer
        return self._answer(outcome)

    # -- querydr and the day list --------------------------------------------------------

    def _request_base(self, command: str) -> dict[str, object]:
        return {
            "vnp_RequestId": self._request_ids()[:32],
            "vnp_Version": self._config.version,
            "vnp_Command": command,
            "vnp_TmnCode": self._config.tmn_code,
        }

    async def query_status(self, reference: str, *, created_at: dt.datetime) -> StatusResult:
        """``querydr`` for ``reference``; ``created_at`` is the pay URL's ``vnp_CreateDate``."""
        cfg = self._config
        message = {
            **self._request_base("querydr"),
            "vnp_TxnRef": reference,
            "vnp_OrderInfo": f"Truy van giao dich {reference}",
            "vnp_TransactionDate": provider_timestamp(created_at),
            "vnp_CreateDate": provider_timestamp(self._clock()),
            "vnp_IpAddr": cfg.server_ip,
        }
        message["vnp_SecureHash"] = checksum.piped_hash(
            message, checksum.QUERYDR_REQUEST_FIELDS, self._secret
        )
        reply = await self._exchange.post(
            "query_status", cfg.api_url, message, max_bytes=cfg.max_reply_bytes
        )
        if not isinstance(reply, dict) or not checksum.verify_piped(
            reply, checksum.QUERYDR_RESPONSE_FIELDS, self._secret
        ):
            raise UpstreamBadReply(
                "querydr reply is malformed or its hash does not match",
                upstream=UPSTREAM,
                operation="query_status",
            )
        code = str(reply.get("vnp_ResponseCode", ""))
        if code == QUERY_NOT_FOUND:
            return StatusResult(reference, ProviderStatus.UNKNOWN, None, None, code)
        if code in ("02", "97"):
            raise UpstreamAuthError(
                f"VNPay refused the merchant credentials ({code})",
                upstream=UPSTREAM,
                operation="query_status",
            )
        if code != "00":
            raise UpstreamFault(
                "VNPay could not answer querydr",
                code=code,
                server_side=code == "99",
                upstream=UPSTREAM,
                operation="query_status",
            )
        if reply.get("vnp_TxnRef") != reference:
            raise UpstreamBadReply(
                "querydr reply is for another reference",
                upstream=UPSTREAM,
                operation="query_status",
            )
        try:
            amount = amount_from_vnpay(reply.get("vnp_Amount"))
        except ValueError:
            raise UpstreamBadReply(
                "querydr amount is invalid", upstream=UPSTREAM, operation="query_status"
            ) from None
        status_code = str(reply.get("vnp_TransactionStatus", ""))
        txn = str(reply.get("vnp_TransactionNo") or "")
        return StatusResult(
            reference=reference,
            status=TRANSACTION_STATUS.get(status_code, ProviderStatus.FAILED),
            amount=amount,
            provider_txn_id=txn if txn not in ("", "0") else None,
            raw_code=status_code,
        )

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        """Stream the day's transactions, one page in memory at a time *(inferred API)*."""
        cfg = self._config

        async def fetch_page(page: int) -> tuple[list[Any], int]:
            message = {
                **self._request_base(cfg.list_command),
                "vnp_TransDate": day.strftime("%Y%m%d"),
                "vnp_Page": str(page),
                "vnp_CreateDate": provider_timestamp(self._clock()),
                "vnp_IpAddr": cfg.server_ip,
            }
            message["vnp_SecureHash"] = checksum.piped_hash(
                message, checksum.LIST_REQUEST_FIELDS, self._secret
            )
            reply = await self._exchange.post(
                "list_transactions", cfg.api_url, message, max_bytes=cfg.max_page_bytes
            )
            return self._page_rows(reply)

        async for transaction in stream_pages(fetch_page, self._transaction):
            yield transaction

    def _page_rows(self, reply: Any) -> tuple[list[Any], int]:
        if not isinstance(reply, dict) or not isinstance(reply.get("vnp_Transactions"), list):
            raise UpstreamBadReply(
                "day list page is malformed", upstream=UPSTREAM, operation="list_transactions"
            )
        code = str(reply.get("vnp_ResponseCode", ""))
        if code != "00":
            raise UpstreamFault(
                "VNPay refused the day list",
                code=code,
                server_side=code == "99",
                upstream=UPSTREAM,
                operation="list_transactions",
            )
        pages = reply.get("vnp_TotalPages")
        if not isinstance(pages, int) or pages < 0:
            raise UpstreamBadReply(
                "day list page count is invalid", upstream=UPSTREAM, operation="list_transactions"
            )
        return reply["vnp_Transactions"], pages

    def _transaction(self, row: Any) -> Transaction:
        try:
            if not isinstance(row, dict):
                raise ValueError("row is not an object")
            pay_date = row.get("vnp_PayDate")
            txn = str(row.get("vnp_TransactionNo") or "")
            return Transaction(
                reference=str(row["vnp_TxnRef"]),
                provider_txn_id=txn if txn not in ("", "0") else None,
                amount=amount_from_vnpay(row.get("vnp_Amount")),
                status=TRANSACTION_STATUS.get(
                    str(row.get("vnp_TransactionStatus")), ProviderStatus.FAILED
                ),
                at=parse_provider_timestamp(pay_date)
                if isinstance(pay_date, str) and pay_date
                else None,
            )
        except (KeyError, ValueError):
            raise UpstreamBadReply(
                "day list row is malformed", upstream=UPSTREAM, operation="list_transactions"
            ) from None
