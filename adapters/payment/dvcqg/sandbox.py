"""A national payment platform on loopback: create, pay page, callbacks, query, day list.

It speaks :mod:`adapters.payment.dvcqg.client`'s protocol and checks every checksum
it receives. Beyond protocols.md *(inferred, documented here)*:

- the create reply carries the pay URL in ``UrlThanhToan`` (``/pay/<token>``);
- the payer returns to the gateway's return URL with the callback's fields and
  ``MaXacThuc`` in the query string (a signed return, verified like a callback);
- the day list is paged: ``Trang`` n of ``TongSoTrang``, ``page_size`` rows each;
- with ``amount_hundredths`` set, ``SoTien`` is a JSON decimal number (``150000.5``),
  and its checksum covers that number as written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
import secrets
from urllib.parse import urlencode

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from adapters.aliases import Sleep
from adapters.aliases import WallClock as Clock
from adapters.payment.base import REFERENCE_PATTERN, provider_timestamp, vietnam_now, whole_dong
from adapters.payment.config import ProviderStatus
from adapters.payment.dvcqg import checksum
from adapters.payment.dvcqg.config import DvcqgConfig
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
    serve,
    slow_or_failing_status,
)
from adapters.payment.sandbox_ledger import SandboxPayment
from adapters.serving import json_object


class DvcqgSandboxConfig(BaseModel):
    """The sandbox platform: same wire settings as the client, plus where the gateway is."""

    model_config = ConfigDict(extra="forbid")

    #: Partner code, hash key, message types, result codes and paths (``base_url`` unused).
    protocol: DvcqgConfig = Field(default_factory=DvcqgConfig)
    callback_url: str = "http://127.0.0.1:8700/callbacks/dvcqg"
    return_url: str = "http://127.0.0.1:8700/pay/return/dvcqg"
    bank_code: str = "SANDBOXBANK"
    page_size: int = Field(default=10_000, ge=1, le=100_000)
    #: Check the ``MaXacThuc`` of the gateway's answers (an unsigned answer does not close).
    verify_answers: bool = True
    delivery: CallbackDelivery = Field(default_factory=CallbackDelivery)
    misbehaviour: Misbehaviour = Field(default_factory=Misbehaviour)


class DvcqgSandboxWire:
    """How the platform's callbacks and returns look, and which answers close a callback."""

    title = "Nền tảng thanh toán (sandbox)"

    def __init__(self, config: DvcqgSandboxConfig) -> None:
        self.config = config
        self.hash_key = config.protocol.hash_key_value()

    def settled(self, payment: SandboxPayment, misbehaviour: Misbehaviour) -> None:
        """Nothing platform-specific to record (the shared knobs travel in the variant)."""

    def result_message(
        self,
        payment: SandboxPayment,
        status: ProviderStatus,
        reported: ReportedAs = TRUTH,
    ) -> dict[str, object]:
        """A signed callback-shaped message (callbacks, returns and query replies)."""
        proto = self.config.protocol
        amount: int | float = payment.reported_amount
        if reported.amount_hundredths:
            # Through text, so the JSON number is exactly "<dong>.<hundredths>" (trailing 0 cut).
            amount = float(f"{payment.reported_amount}.{reported.amount_hundredths:02d}")
        message: dict[str, object] = {
            "LoaiBanTin": proto.message_types.callback,
            "MaLoi": proto.result_codes.code_of(status),
            "MaDoiTac": proto.partner_code
            if reported.merchant_code is None
            else reported.merchant_code,
            "MaThamChieu": payment.reference if reported.reference is None else reported.reference,
            "SoTien": amount,
            "MaTienTe": "VND",
            "MaGiaoDich": payment.txn_id or "",
            "MaNganHang": self.config.bank_code if payment.txn_id else "",
            "ThoiGianGD": provider_timestamp(payment.settled_at or payment.created_at),
            "ThongTinGiaoDich": payment.description,
        }
        return checksum.sign(message, checksum.CALLBACK_FIELDS, self.hash_key)

    def callback(self, payment: SandboxPayment, variant: CallbackVariant) -> OutboundCallback:
        message = self.result_message(payment, variant.status, variant.reported)
        if variant.corrupt:
            message["MaXacThuc"] = corrupt_digest(str(message["MaXacThuc"]))
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        return OutboundCallback("POST", self.config.callback_url, body, "application/json")

    def callback_closed(self, status: int, body: bytes) -> bool:
        """Closed by HTTP 200 with ``MaLoi`` 00 (and a valid ``MaXacThuc`` when checked)."""
        try:
            answer = json.loads(body)
        except ValueError:
            return False
        if status != 200 or not isinstance(answer, dict) or answer.get("MaLoi") != "00":
            return False
        return not self.config.verify_answers or checksum.verify(
            answer, checksum.REPLY_FIELDS, self.hash_key
        )

    def return_redirect(self, payment: SandboxPayment, variant: CallbackVariant) -> str:
        message = self.result_message(payment, payment.status, variant.reported)
        if variant.corrupt:
            message["MaXacThuc"] = corrupt_digest(str(message["MaXacThuc"]))
        separator = "&" if "?" in payment.return_url else "?"
        return payment.return_url + separator + urlencode({k: str(v) for k, v in message.items()})

    def reply(self, code: str, text: str, reference: object, **extra: object) -> web.Response:
        message: dict[str, object] = {
            "MaLoi": code,
            "MoTaLoi": text,
            "MaDoiTac": self.config.protocol.partner_code,
            "MaThamChieu": reference if isinstance(reference, str) else "",
            "ThoiGianGD": provider_timestamp(vietnam_now()),
            **extra,
        }
        checksum.sign(message, checksum.REPLY_FIELDS, self.hash_key)
        return web.json_response(message)


WIRE = web.AppKey("dvcqg_sandbox_wire", DvcqgSandboxWire)


async def create_payment(request: web.Request) -> web.Response:
    """``TaoGiaoDich``: check the message, register the payment, answer the pay URL."""
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    message = await json_object(request)
    reference = message.get("MaThamChieu")
    core.stats["creates"] += 1
    if not checksum.verify(message, checksum.CREATE_FIELDS, wire.hash_key):
        return wire.reply("99", "Sai mã xác thực", reference)
    if message.get("MaDoiTac") != wire.config.protocol.partner_code:
        return wire.reply("99", "Sai mã đối tác", reference)
    if not isinstance(reference, str) or not REFERENCE_PATTERN.fullmatch(reference):
        return wire.reply("99", "Mã tham chiếu không hợp lệ", reference)
    try:
        amount = whole_dong(message.get("SoTien"))
        receipt = message.get("ThongTinBienLai") or {}
        lines = receipt.get("PhiLePhi") or []
        fee_total = sum(whole_dong(line.get("SoTien")) for line in lines)
    except (ValueError, AttributeError, TypeError):
        return wire.reply("99", "Số tiền không hợp lệ", reference)
    if amount <= 0 or (lines and fee_total != amount):
        return wire.reply("99", "Số tiền không khớp phí, lệ phí", reference)
    existing = core.ledger.find(reference)
    if existing is not None and (
        existing.amount != amount or existing.status is not ProviderStatus.PENDING
    ):
        return wire.reply("99", "Mã tham chiếu đã tồn tại", reference)
    payment = existing or SandboxPayment(
        reference=reference,
        amount=amount,
        description=str(message.get("ThongTinGiaoDich", "")),
        created_at=core.clock(),
        page_key=secrets.token_urlsafe(16),
        return_url=wire.config.return_url,
    )
    core.ledger.add(payment)
    pay_url = f"{request.url.origin()}/pay/{payment.page_key}"
    return wire.reply(
        "00", "Thành công", reference, **{wire.config.protocol.pay_url_field: pay_url}
    )


async def query_payment(request: web.Request) -> web.Response:
    """The bill query: the payment's state, as a signed callback-shaped message."""
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    failure = await slow_or_failing_status(core)
    if failure is not None:
        return failure
    message = await json_object(request)
    proto = wire.config.protocol
    reference = message.get("MaThamChieu")
    if not checksum.verify(message, checksum.BILL_QUERY_FIELDS, wire.hash_key):
        return wire.reply("99", "Sai mã xác thực", reference)
    payment = core.ledger.find(reference) if isinstance(reference, str) else None
    if payment is None:
        unknown: dict[str, object] = {
            "LoaiBanTin": proto.message_types.callback,
            "MaLoi": proto.result_codes.not_found,
            "MaDoiTac": proto.partner_code,
            "MaThamChieu": reference if isinstance(reference, str) else "",
            "ThoiGianGD": provider_timestamp(core.clock()),
        }
        return web.json_response(checksum.sign(unknown, checksum.CALLBACK_FIELDS, wire.hash_key))
    return web.json_response(wire.result_message(payment, payment.status))


async def day_list(request: web.Request) -> web.Response:
    """One page of a day's settled transactions (``NgayDoiSoat``, ``Trang``)."""
    core, wire = request.app[SANDBOX_CORE], request.app[WIRE]
    message = await json_object(request)
    if not checksum.verify(message, checksum.DAY_LIST_FIELDS, wire.hash_key):
        return wire.reply("99", "Sai mã xác thực", "")
    try:
        day = dt.datetime.strptime(str(message.get("NgayDoiSoat")), "%Y%m%d").date()
        page = int(str(message.get("Trang")))
    except ValueError:
        return wire.reply("99", "Ngày hoặc trang không hợp lệ", "")
    if page < 1:
        return wire.reply("99", "Trang không hợp lệ", "")
    core.stats["list_pages"] += 1
    size = wire.config.page_size
    codes = wire.config.protocol.result_codes
    rows = [
        {
            "MaThamChieu": row.reference,
            "MaGiaoDich": row.txn_id or "",
            "SoTien": row.reported_amount,
            "MaLoi": codes.code_of(row.status),
            "ThoiGianGD": _list_timestamp(row.settled_at or row.created_at),
        }
        for row in core.ledger.day_page(day, page, size)
    ]
    body = {
        "MaLoi": "00",
        "MoTaLoi": "Thành công",
        "NgayDoiSoat": day.strftime("%Y%m%d"),
        "Trang": page,
        "TongSoTrang": math.ceil(core.ledger.day_size(day) / size),
        "DanhSach": rows,
    }
    # orjson: a page has 10,000 rows, and the reconciliation benchmark lists a million.
    return web.Response(body=orjson.dumps(body), content_type="application/json")


#: A list's timestamps (a day has 86,400 seconds; a million-row list repeats them).
_list_timestamp = functools.lru_cache(maxsize=131_072)(provider_timestamp)


def create_sandbox_app(
    config: DvcqgSandboxConfig,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = vietnam_now,
) -> web.Application:
    """The sandbox platform as an aiohttp app (routes at the client's configured paths)."""
    wire = DvcqgSandboxWire(config)
    app = build_sandbox_app(wire, WIRE, config, sleep=sleep, clock=clock)
    paths = config.protocol.paths
    app.router.add_post(paths.create, create_payment)
    app.router.add_post(paths.query, query_payment)
    app.router.add_post(paths.day_list, day_list)
    return app


async def start_sandbox(
    config: DvcqgSandboxConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Run the sandbox; the runner (``await runner.cleanup()`` to stop) and its base URL."""
    return await serve(create_sandbox_app(config), host, port)
