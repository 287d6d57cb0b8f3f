"""VNPay 2.1.0 as a :class:`~adapters.payment.base.PaymentProvider`.

The pay URL is built locally (no call to VNPay): the standard ``vnp_*`` parameters
with ``vnp_Amount`` = amount × 100, dates ``yyyyMMddHHmmss`` in GMT+7 and
``vnp_TxnRef`` = the gateway's reference, signed with HMAC-SHA512 over the string
VNPay's reference code builds (:mod:`.checksum` says which, and where the
references disagree). The IPN arrives as a GET and is answered ``{RspCode,
Message}``; the payer's return carries the same signed parameters, so
:meth:`VnpayProvider.parse_callback` verifies both. Every code is read through the
published tables of :mod:`.codes`.

An IPN is read in the order of VNPay's reference ``vnpay_ipn.php`` /
``vnpay_ipn.jsp`` (checksum → order → amount → order state), the adapter doing
the first step and the gateway the rest:

- a missing or wrong ``vnp_SecureHash`` is the only rejection
  (:class:`~adapters.payment.base.CallbackRejected`, answered ``97``);
- a correctly signed IPN always becomes a
  :class:`~adapters.payment.base.CallbackResult`, whatever it says: any
  ``vnp_TxnRef`` is passed on as sent (an order the gateway does not know is
  answered ``01``); a ``vnp_TmnCode`` other than ours sets ``for_this_merchant``
  False (answered ``01``); a ``vnp_Amount`` that is not a multiple of 100 sets
  ``whole_dong`` False with the amount rounded down, and one that is not a
  number at all (empty, signs, letters) sets it False with amount 0: the
  reference divides it by 100 and compares it with the order, so it answers
  ``04`` for an order it knows and ``01`` for one it does not, and so does the
  gateway; an unreadable ``vnp_PayDate`` leaves ``paid_at`` None (the reference
  never reads it); codes VNPay does not publish give status ``unknown``.
- :meth:`VnpayProvider.answer_callback` maps the gateway's outcome to the published
  answer: confirmed ``00``, already confirmed ``02``, not found ``01``, amount
  mismatch ``04``, rejected ``97``, and ``99`` only for the gateway's own failure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from typing import Any

import aiohttp
import orjson
import structlog

from adapters.errors import UpstreamAuthError, UpstreamBadReply, UpstreamFault
from adapters.guard import CallGuard
from adapters.payment.base import (
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
from adapters.payment.transport import JsonExchange
from adapters.payment.vnpay import checksum, codes
from adapters.payment.vnpay.config import VnpayConfig

UPSTREAM = "vnpay"
#: States in which the payer's money left the account (``paid_at`` is read for them).
_DEBITED = frozenset(
    {ProviderStatus.PAID, ProviderStatus.FLAGGED, ProviderStatus.REVERSED, ProviderStatus.REFUNDED}
)

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


def amount_from_vnpay(value: object) -> int:
    """Whole dong from ``vnp_Amount`` (× 100); ``ValueError`` if not a whole dong amount."""
    hundredths = whole_dong(value)
    if hundredths % 100:
        raise ValueError("vnp_Amount is not whole dong")
    return hundredths // 100


def reported_amount(value: str) -> tuple[int, bool]:
    """``(dong, whole)`` from an IPN's ``vnp_Amount``: rounded down; 0 if it is no number."""
    try:
        hundredths = whole_dong(value)
    except ValueError:
        return 0, False
    return hundredths // 100, hundredths % 100 == 0


class VnpayProvider(ColumnDayList):
    """Builds pay URLs, verifies IPNs and returns, answers IPNs, queries and lists payments."""

    day_list_upstream = UPSTREAM
    day_list_time_field = "vnp_PayDate"

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
            session, guard, upstream=UPSTREAM, attempt_timeout=config.attempt_timeout_seconds
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

    def _answer(self, outcome: CallbackOutcome) -> ProviderAnswer:
        code, message = codes.IPN_ANSWERS[outcome]
        body = json.dumps({"RspCode": code, "Message": message}).encode("ascii")
        return ProviderAnswer(200, "application/json; charset=utf-8", body)

    def parse_callback(self, method: str, query: Mapping[str, str], body: bytes) -> CallbackResult:
        """Verify an IPN or the payer's return (both signed ``vnp_*`` query parameters).

        Only a bad checksum raises :class:`CallbackRejected` (answered 97); every
        correctly signed message becomes a result (see the module docstring).
        """
        del method, body  # VNPay sends everything in the query string
        params = {k: v for k, v in query.items() if isinstance(v, str)}
        if not checksum.verify_params(params, self._secret):
            raise CallbackRejected(
                "vnp_SecureHash does not match",
                self._answer("rejected"),
                kind="bad_checksum",
                upstream=UPSTREAM,
            )
        amount, whole = reported_amount(params.get("vnp_Amount", ""))
        response_code = params.get("vnp_ResponseCode", "")
        status = codes.status_of(response_code, params.get("vnp_TransactionStatus"))
        paid_at = paid_time(params.get("vnp_PayDate", "")) if status in _DEBITED else None
        txn = params.get("vnp_TransactionNo", "")
        return CallbackResult(
            reference=params.get("vnp_TxnRef", ""),
            provider_txn_id=txn if txn not in ("", "0") else None,
            status=status,
            amount=amount,
            paid_at=paid_at,
            raw_code=response_code,
            verified=True,
            whole_dong=whole,
            for_this_merchant=params.get("vnp_TmnCode") == self._config.tmn_code,
        )

    def answer_callback(
        self,
        result_or_error: CallbackResult | CallbackRejected | None,
        *,
        outcome: CallbackOutcome,
    ) -> ProviderAnswer:
        """``{RspCode, Message}`` of :data:`.codes.IPN_ANSWERS` (only 00 and 02 close the IPN)."""
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

    async def _signed_call(
        self,
        command: str,
        operation: str,
        fields: dict[str, object],
        signed: tuple[str, ...],
        *,
        max_bytes: int,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        """One API request: the common fields, ``fields``, the time and our address, signed."""
        message = {
            **self._request_base(command),
            **fields,
            "vnp_CreateDate": provider_timestamp(self._clock()),
            "vnp_IpAddr": self._config.server_ip,
        }
        message["vnp_SecureHash"] = checksum.piped_hash(message, signed, self._secret)
        return await self._exchange.post(
            operation, self._config.api_url, message, max_bytes=max_bytes, decode=decode
        )

    async def query_status(self, reference: str, *, created_at: dt.datetime) -> StatusResult:
        """``querydr`` for ``reference``; ``created_at`` is the pay URL's ``vnp_CreateDate``."""
        cfg = self._config
        reply = await self._signed_call(
            "querydr",
            "query_status",
            {
                "vnp_TxnRef": reference,
                "vnp_OrderInfo": f"Truy van giao dich {reference}",
                "vnp_TransactionDate": provider_timestamp(created_at),
            },
            checksum.QUERYDR_REQUEST_FIELDS,
            max_bytes=cfg.max_reply_bytes,
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
        published = codes.QUERYDR_RESPONSE_CODES.get(code)
        kind = published.kind if published is not None else "unpublished"
        if kind == "not_found":
            return StatusResult(reference, ProviderStatus.UNKNOWN, None, None, code)
        if kind == "credentials":
            raise UpstreamAuthError(
                f"VNPay refused the merchant credentials ({code})",
                upstream=UPSTREAM,
                operation="query_status",
            )
        if kind != "answer":
            raise UpstreamFault(
                "VNPay could not answer querydr",
                code=code,
                server_side=kind == "server",
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
            status=codes.transaction_status(status_code),
            amount=amount,
            provider_txn_id=txn if txn not in ("", "0") else None,
            raw_code=status_code,
        )

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        """Stream the day's transactions, one page in memory at a time *(inferred API)*."""
        async for transaction in stream_pages(partial(self._fetch_page, day), self._transaction):
            yield transaction

    async def _fetch_page(self, day: dt.date, page: int) -> tuple[list[Any], int]:
        reply = await self._signed_call(
            self._config.list_command,
            "list_transactions",
            {"vnp_TransDate": day.strftime("%Y%m%d"), "vnp_Page": str(page)},
            checksum.LIST_REQUEST_FIELDS,
            max_bytes=self._config.max_page_bytes,
            decode=orjson.loads,
        )
        return self._page_rows(reply)

    def _page_rows(self, reply: Any) -> tuple[list[Any], int]:
        rows = page_rows(reply, "vnp_Transactions", upstream=UPSTREAM)
        code = str(reply.get("vnp_ResponseCode", ""))
        if code != "00":
            raise UpstreamFault(
                "VNPay refused the day list",
                code=code,
                server_side=code == "99",
                upstream=UPSTREAM,
                operation="list_transactions",
            )
        return rows, page_count(reply, "vnp_TotalPages", upstream=UPSTREAM)

    def _row_fields(self, row: dict[str, Any]) -> RowFields:
        """:meth:`_transaction`'s checks and fields, its timestamp checked, not kept."""
        pay_date = row.get("vnp_PayDate")
        txn = str(row.get("vnp_TransactionNo") or "")
        reference = str(row["vnp_TxnRef"])
        amount = amount_from_vnpay(row.get("vnp_Amount"))
        status = codes.status_of(
            str(row.get("vnp_ResponseCode") or ""), str(row.get("vnp_TransactionStatus") or "")
        )
        if isinstance(pay_date, str) and pay_date:
            check_provider_timestamp(pay_date)
        return reference, txn if txn not in ("", "0") else None, amount, status
