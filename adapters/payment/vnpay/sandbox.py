"""VNPay 2.1.0 on loopback: pay page, IPN, return, ``querydr`` and a day list.

It checks ``vnp_SecureHash`` on the pay URL and on every API request, registers an
order when its pay URL is opened (as VNPay does), sends the IPN as a signed GET and
sends the payer back to ``vnp_ReturnUrl`` with the same signed parameters. The day
list (``vnp_Command=translist``, paged) is *inferred*: VNPay publishes none.

It signs with the adapter's canonical string and accepts only that string on the
pay URL (stricter than the adapter, which also accepts the other reference
implementations' forms), so a pay URL built any other way fails here with 70.

Beyond the shared knobs (:class:`~adapters.payment.sandbox_kit.Misbehaviour`),
:class:`VnpayMisbehaviour` sets the codes a payment reports once settled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.aliases import Sleep
from adapters.aliases import WallClock as Clock
from adapters.payment.base import REFERENCE_PATTERN, provider_timestamp, vietnam_now, whole_dong
from adapters.payment.config import ProviderStatus
from adapters.payment.sandbox_kit import (
    SANDBOX_CORE,
    TRUTH,
    CallbackDelivery,
    CallbackVariant,
    Misbehaviour,
    OutboundCallback,
    ReportedAs,
    build_sandbox_app,
    corrupt_digest,
    render_pay_page,
    serve,
    slow_or_failing_status,
)
from adapters.payment.sandbox_ledger import SandboxPayment
from adapters.payment.vnpay import checksum
from adapters.payment.vnpay.config import VnpayConfig
from adapters.serving import json_object

#: (vnp_ResponseCode, vnp_TransactionStatus) the sandbox reports for each state.
WIRE_CODES: dict[ProviderStatus, tuple[str, str]] = {
    ProviderStatus.PAID: ("00", "00"),
    ProviderStatus.PENDING: ("99", "01"),
    ProviderStatus.FAILED: ("51", "02"),
    ProviderStatus.CANCELLED: ("24", "02"),
    ProviderStatus.FLAGGED: ("07", "07"),
    ProviderStatus.REVERSED: ("00", "04"),
    ProviderStatus.REFUNDED: ("00", "05"),
}
_CODE = r"^[0-9]{2}$"


class VnpayMisbehaviour(Misbehaviour):
    """The shared knobs, plus the codes VNPay reports for a payment settled while set.

    Both apply to every payment the payer settles while they are set, and stay with
    it: ``response_code`` in its IPN and return, ``transaction_status`` in its IPN,
    return, ``querydr`` reply and day-list row. Stale out-of-order callbacks keep
    their own state's codes.
    """

    #: ``vnp_ResponseCode`` instead of the state's: e.g. ``"07"`` (debited, flagged).
    response_code: str | None = Field(default=None, pattern=_CODE)
    #: ``vnp_TransactionStatus`` instead of the state's: ``"04"`` reversed, ``"05"``,
    #: ``"06"``, ``"09"`` refund states, ``"07"`` flagged (or any unpublished code).
    transaction_status: str | None = Field(default=None, pattern=_CODE)


class VnpaySandboxConfig(BaseModel):
    """The sandbox VNPay: same wire settings as the client, plus where the gateway is."""

    model_config = ConfigDict(extra="forbid")

    #: TmnCode, hash secret, version; the paths of ``pay_url`` and ``api_url`` are served.
    protocol: VnpayConfig = Field(default_factory=VnpayConfig)
    callback_url: str = "http://127.0.0.1:8700/callbacks/vnpay"
    #: Used when a pay URL carries no ``vnp_ReturnUrl``.
    return_url: str = "http://127.0.0.1:8700/pay/return/vnpay"
    bank_code: str = "NCB"
    page_size: int = Field(default=10_000, ge=1, le=100_000)
    delivery: CallbackDelivery = Field(default_factory=CallbackDelivery)
    misbehaviour: VnpayMisbehaviour = Field(default_factory=VnpayMisbehaviour)

    @field_validator("misbehaviour", mode="before")
    @classmethod
    def _shared_knobs(cls, value: object) -> object:
        """A shared :class:`Misbehaviour` is taken as it is, VNPay's own knobs off."""
        if isinstance(value, Misbehaviour) and not isinstance(value, VnpayMisbehaviour):
            return value.model_dump()
        return value


class VnpaySandboxWire:
    """How VNPay's IPNs and returns look, and which IPN answers close them."""

    title = "VNPay (sandbox)"

    def __init__(self, config: VnpaySandboxConfig) -> None:
        self.config = config
        self.secret = config.protocol.hash_secret_value()
        self.request_ids: dict[tuple[dt.date, str], None] = {}

    def settled(self, payment: SandboxPayment, misbehaviour: Misbehaviour) -> None:
        """Keep the codes a :class:`VnpayMisbehaviour` sets with the payment."""
        if isinstance(misbehaviour, VnpayMisbehaviour):
            if misbehaviour.response_code is not None:
                payment.wire["vnp_ResponseCode"] = misbehaviour.response_code
            if misbehaviour.transaction_status is not None:
                payment.wire["vnp_TransactionStatus"] = misbehaviour.transaction_status

    @staticmethod
    def wire_codes(payment: SandboxPayment, status: ProviderStatus) -> tuple[str, str]:
        """(vnp_ResponseCode, vnp_TransactionStatus) for ``payment`` reported as ``status``."""
        response_code, transaction_status = WIRE_CODES[status]
        if status is not payment.status:  # a stale callback: its own state's codes
            return response_code, transaction_status
        return (
            payment.wire.get("vnp_ResponseCode", response_code),
            payment.wire.get("vnp_TransactionStatus", transaction_status),
        )

    def result_params(
        self,
        payment: SandboxPayment,
        status: ProviderStatus,
        reported: ReportedAs = TRUTH,
    ) -> dict[str, str]:
        response_code, transaction_status = self.wire_codes(payment, status)
        hundredths = payment.reported_amount * 100 + reported.amount_hundredths
        return {
            "vnp_Amount": str(hundredths),
            "vnp_BankCode": self.config.bank_code,
            "vnp_BankTranNo": f"VNP{payment.txn_id}" if status is ProviderStatus.PAID else "",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": payment.description,
            "vnp_PayDate": provider_timestamp(payment.settled_at or payment.created_at),
            "vnp_ResponseCode": response_code,
            "vnp_TmnCode": self.config.protocol.tmn_code
            if reported.merchant_code is None
            else reported.merchant_code,
            "vnp_TransactionNo": payment.txn_id or "0",
            "vnp_TransactionStatus": transaction_status,
            "vnp_TxnRef": payment.reference if reported.reference is None else reported.reference,
        }

    def signed_query(self, params: dict[str, str], *, corrupt: bool) -> str:
        digest = checksum.secure_hash(params, self.secret)
        if corrupt:
            digest = corrupt_digest(digest)
        return f"{checksum.canonical_query(params)}&vnp_SecureHash={digest}"

    def callback(self, payment: SandboxPayment, variant: CallbackVariant) -> OutboundCallback:
        params = self.result_params(payment, variant.status, variant.reported)
        query = self.signed_query(params, corrupt=variant.corrupt)
        return OutboundCallback("GET", f"{self.config.callback_url}?{query}")

    def callback_closed(self, status: int, body: bytes) -> bool:
        """Only ``RspCode`` 00 and 02 close an IPN."""
        try:
            answer = json.loads(body)
        except ValueError:
            return False
        return status == 200 and isinstance(answer, dict) and answer.get("RspCode") in ("00", "02")

    def return_redirect(self, payment: SandboxPayment, variant: CallbackVariant) -> str:
        params = self.result_params(payment, payment.status, variant.reported)
        query = self.signed_query(params, corrupt=variant.corrupt)
        separator = "&" if "?" in payment.return_url else "?"
        return f"{payment.return_url}{separator}{query}"

    def api_reply(self, fields: tuple[str, ...], **values: object) -> web.Response:
        message: dict[str, object] = {
            "vnp_ResponseId": uuid.uuid4().hex,
            "vnp_TmnCode": self.config.protocol.tmn_code,
            **values,
        }
        message["vnp_SecureHash"] = checksum.piped_hash(message, fields, self.secret)
        return web.json_response(message)


WIRE = web.AppKey("vnpay_sandbox_wire", VnpaySandboxWire)


def _error_page(status: int, code: str, text: str) -> web.Response:
    page = f"<!doctype html><html><body><p id='error' data-code='{code}'>{text}</p></body></html>"
    return web.Response(status=status, text=page, content_type="text/html", charset="utf-8")


async def open_pay_url(request: web.Request) -> web.Response:
    """``vpcpay.html``: check the signed pay URL, register the order, show the pay page."""
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    params = dict(request.query)
    if not checksum.verify_canonical(params, wire.secret):
        return _error_page(400, "70", "Sai chữ ký")
    proto = wire.config.protocol
    reference = params.get("vnp_TxnRef", "")
    if params.get("vnp_TmnCode") != proto.tmn_code or params.get("vnp_Command") != "pay":
        return _error_page(400, "02", "Merchant không hợp lệ")
    try:
        hundredths = whole_dong(params.get("vnp_Amount"))
    except ValueError:
        return _error_page(400, "03", "Số tiền không hợp lệ")
    if not REFERENCE_PATTERN.fullmatch(reference) or hundredths <= 0 or hundredths % 100:
        return _error_page(400, "03", "Dữ liệu không đúng định dạng")
    existing = core.ledger.find(reference)
    if existing is not None and existing.amount != hundredths // 100:
        return _error_page(400, "03", "Giao dịch đã tồn tại")
    payment = existing or SandboxPayment(
        reference=reference,
        amount=hundredths // 100,
        description=params.get("vnp_OrderInfo", ""),
        created_at=core.clock(),
        page_key=reference,
        return_url=params.get("vnp_ReturnUrl") or wire.config.return_url,
        wire={"vnp_CreateDate": params.get("vnp_CreateDate", "")},
    )
    core.ledger.add(payment)
    return render_pay_page(wire.title, payment, f"/pay/{payment.page_key}")


async def merchant_api(request: web.Request) -> web.Response:
    """The merchant web API: ``querydr`` and ``translist`` by ``vnp_Command``."""
    message = await json_object(request)
    command = message.get("vnp_Command")
    if command == "querydr":
        return await _querydr(request, message)
    if command == request.app[WIRE].config.protocol.list_command:
        return _day_list(request, message)
    raise web.HTTPBadRequest(text="unknown vnp_Command")


async def _querydr(request: web.Request, message: dict[str, Any]) -> web.Response:
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    failure = await slow_or_failing_status(core)
    if failure is not None:
        return failure
    fields = checksum.QUERYDR_RESPONSE_FIELDS
    reference = str(message.get("vnp_TxnRef", ""))
    base = {"vnp_Command": "querydr", "vnp_TxnRef": reference}
    if not checksum.verify_piped(message, checksum.QUERYDR_REQUEST_FIELDS, wire.secret):
        return wire.api_reply(fields, **base, vnp_ResponseCode="97", vnp_Message="Invalid Checksum")
    if message.get("vnp_TmnCode") != wire.config.protocol.tmn_code:
        return wire.api_reply(fields, **base, vnp_ResponseCode="02", vnp_Message="Invalid merchant")
    request_key = (core.clock().date(), str(message.get("vnp_RequestId")))
    if request_key in wire.request_ids:
        return wire.api_reply(
            fields, **base, vnp_ResponseCode="94", vnp_Message="Duplicate request"
        )
    wire.request_ids[request_key] = None
    payment = core.ledger.find(reference)
    created = payment.wire.get("vnp_CreateDate") if payment is not None else None
    if payment is None or (created and created != message.get("vnp_TransactionDate")):
        return wire.api_reply(fields, **base, vnp_ResponseCode="91", vnp_Message="Not found")
    params = wire.result_params(payment, payment.status)
    return wire.api_reply(
        fields,
        **base,
        vnp_ResponseCode="00",
        vnp_Message="QueryDR Success",
        vnp_Amount=params["vnp_Amount"],
        vnp_BankCode=params["vnp_BankCode"],
        vnp_PayDate=params["vnp_PayDate"] if payment.settled_at else "",
        vnp_TransactionNo=params["vnp_TransactionNo"],
        vnp_TransactionType="01",
        vnp_TransactionStatus=params["vnp_TransactionStatus"],
        vnp_OrderInfo=payment.description,
        vnp_PromotionCode="",
        vnp_PromotionAmount="",
    )


def _day_list(request: web.Request, message: dict[str, Any]) -> web.Response:
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    if not checksum.verify_piped(message, checksum.LIST_REQUEST_FIELDS, wire.secret):
        return web.json_response({"vnp_ResponseCode": "97", "vnp_Message": "Invalid Checksum"})
    try:
        day = dt.datetime.strptime(str(message.get("vnp_TransDate")), "%Y%m%d").date()
        page = int(str(message.get("vnp_Page")))
    except ValueError:
        return web.json_response({"vnp_ResponseCode": "03", "vnp_Message": "Invalid format"})
    if page < 1:
        return web.json_response({"vnp_ResponseCode": "03", "vnp_Message": "Invalid format"})
    core.stats["list_pages"] += 1
    size = wire.config.page_size
    rows = []
    for row in core.ledger.day_page(day, page, size):
        response_code, transaction_status = wire.wire_codes(row, row.status)
        rows.append(
            {
                "vnp_TxnRef": row.reference,
                "vnp_TransactionNo": row.txn_id or "0",
                "vnp_Amount": str(row.reported_amount * 100),
                "vnp_ResponseCode": response_code,
                "vnp_TransactionStatus": transaction_status,
                "vnp_PayDate": provider_timestamp(row.settled_at or row.created_at),
            }
        )
    return web.json_response(
        {
            "vnp_ResponseCode": "00",
            "vnp_Message": "Success",
            "vnp_TransDate": day.strftime("%Y%m%d"),
            "vnp_Page": page,
            "vnp_TotalPages": math.ceil(core.ledger.day_size(day) / size),
            "vnp_Transactions": rows,
        }
    )


def create_sandbox_app(
    config: VnpaySandboxConfig,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = vietnam_now,
) -> web.Application:
    """The sandbox VNPay as an aiohttp app (served at the paths of the client's URLs)."""
    wire = VnpaySandboxWire(config)
    app = build_sandbox_app(wire, WIRE, config, sleep=sleep, clock=clock)
    app.router.add_get(urlsplit(config.protocol.pay_url).path, open_pay_url)
    app.router.add_post(urlsplit(config.protocol.api_url).path, merchant_api)
    return app


async def start_sandbox(
    config: VnpaySandboxConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Run the sandbox; the runner (``await runner.cleanup()`` to stop) and its base URL."""
    return await serve(create_sandbox_app(config), host, port)
