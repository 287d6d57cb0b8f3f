"""Valid, signed result callbacks of the national payment platform, one per bench payment.

:class:`DvcqgCallbacks` is the load generator's request factory for the
callback scenario: a ``paid`` result (``MaLoi`` 00, the billed amount) for each
:class:`Bill`, signed with the platform's keyed checksum exactly as
``adapters.payment.dvcqg.checksum`` verifies it. With ``duplicate_share`` some
requests are redeliveries of the callback sent just before (in a closed loop
the two are often in flight together: the race the ledger must settle). The
send order is :meth:`DvcqgCallbacks.plan`, so the parent can tell afterwards
which payments were called back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from adapters.payment.dvcqg import checksum
from adapters.payment.dvcqg.config import SANDBOX_HASH_KEY, DvcqgMessageTypes
from bench.loadgen import PreparedRequest

#: The embedded default's partner code (``MaDoiTac``).
PARTNER_CODE = "LIENTHONG"
CALLBACK_PATH = "/callbacks/dvcqg"


class Bill(NamedTuple):
    """A pending payment as the platform knows it: our reference and the billed amount."""

    reference: str
    amount: int


def paid_callback(
    bill: Bill,
    index: int,
    paid_at: str,
    *,
    hash_key: str = SANDBOX_HASH_KEY,
    partner_code: str = PARTNER_CODE,
) -> dict[str, object]:
    """The platform's signed ``paid`` result for ``bill`` (``MaGiaoDich`` unique per index)."""
    message: dict[str, object] = {
        "LoaiBanTin": DvcqgMessageTypes().callback,
        "MaLoi": "00",
        "MaDoiTac": partner_code,
        "MaThamChieu": bill.reference,
        "SoTien": bill.amount,
        "MaTienTe": "VND",
        "MaGiaoDich": f"BENCH{index:012d}",
        "MaNganHang": "SANDBOXBANK",
        "ThoiGianGD": paid_at,
        "ThongTinGiaoDich": "Thanh toan phi, le phi",
    }
    return checksum.sign(message, checksum.CALLBACK_FIELDS, hash_key)


def delivery_plan(bills: int, count: int, duplicate_share: float) -> list[int]:
    """Bill indexes in send order: each bill once, a ``duplicate_share`` of the sends
    repeating the one before; at most ``count`` sends (fewer when the bills run out)."""
    plan: list[int] = []
    fresh = 0
    while len(plan) < count:
        position = len(plan)
        redeliver = position > 0 and (
            math.floor((position + 1) * duplicate_share) > math.floor(position * duplicate_share)
        )
        if redeliver:
            plan.append(plan[-1])
        elif fresh < bills:
            plan.append(fresh)
            fresh += 1
        else:
            break
    return plan


@dataclass(frozen=True)
class DvcqgCallbacks:
    """POST ``/callbacks/dvcqg``: one signed ``paid`` callback per bill (plus redeliveries)."""

    url: str
    bills: tuple[Bill, ...]
    #: ``ThoiGianGD`` of every callback (yyyyMMddHHmmss, Vietnam time).
    paid_at: str
    duplicate_share: float = 0.0
    expected_status: int = 200
    #: The gateway took the callback: the platform stops delivering it.
    expected_fields: tuple[tuple[str, str], ...] = (("MaLoi", "00"),)

    def plan(self, count: int) -> list[int]:
        return delivery_plan(len(self.bills), count, self.duplicate_share)

    def prepare(self, count: int) -> Sequence[PreparedRequest]:
        headers = {"Content-Type": "application/json"}
        return [
            PreparedRequest(
                "POST",
                self.url,
                headers,
                json.dumps(paid_callback(self.bills[i], i, self.paid_at)).encode(),
            )
            for i in self.plan(count)
        ]
