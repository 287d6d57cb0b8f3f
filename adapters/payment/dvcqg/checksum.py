"""``MaXacThuc``: the platform's keyed SHA-256 checksums, in protocols.md's field orders.

``MaXacThuc`` = hex SHA-256 of the named fields' values joined by ``|`` with the
shared hash key appended as the last element. It is a keyed checksum, not an HMAC.
Missing fields count as empty strings; numbers are written in decimal.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

#: The create message (protocols.md's field order; ``ThongTinBienLai`` is not covered).
CREATE_FIELDS = (
    "LoaiBanTin",
    "PhienBan",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "LoaiHinhThanhToan",
    "MaKenhThanhToan",
    "MaThietBi",
    "NgonNgu",
    "MaTienTe",
    "MaNganHang",
    "ThongTinGiaoDich",
    "ThoiGianGD",
    "Ip",
)
#: The result callback (also the payer's signed return and the status query reply).
CALLBACK_FIELDS = (
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
)
#: A reply ``{MaLoi, MoTaLoi, MaDoiTac, MaThamChieu, ThoiGianGD}`` (ours and the platform's).
REPLY_FIELDS = ("MaLoi", "MoTaLoi", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
#: The bill (status) query.
BILL_QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
#: The day's transaction list request *(inferred, shaped like the bill query)*.
DAY_LIST_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "NgayDoiSoat", "Trang", "ThoiGianGD")


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(value)


def checksum_input(message: Mapping[str, object], fields: Sequence[str], hash_key: str) -> str:
    """The exact string that is hashed (useful in tests; never log it: it holds the key)."""
    return "|".join([*(_text(message.get(name)) for name in fields), hash_key])


def checksum(message: Mapping[str, object], fields: Sequence[str], hash_key: str) -> str:
    """The lower-case hex ``MaXacThuc`` of ``message`` over ``fields``."""
    joined = checksum_input(message, fields, hash_key)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def sign(message: dict[str, object], fields: Sequence[str], hash_key: str) -> dict[str, object]:
    """``message`` with its ``MaXacThuc`` set."""
    message["MaXacThuc"] = checksum(message, fields, hash_key)
    return message


def verify(message: Mapping[str, object], fields: Sequence[str], hash_key: str) -> bool:
    """Whether ``message["MaXacThuc"]`` matches (constant-time, case-insensitive hex)."""
    given = message.get("MaXacThuc")
    if not isinstance(given, str):
        return False
    expected = checksum(message, fields, hash_key)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8"))
