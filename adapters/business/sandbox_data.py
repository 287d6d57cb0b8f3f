"""The businesses the sandbox knows: named fixtures plus generated Cần Thơ-ish businesses.

Each entry is the raw ``Data`` object of a ``chiTietDoanhNghiep`` reply, keyed by the
compact tax code (digits only). The fixtures deliberately vary the spellings the national
system is seen to use (dates, amounts, one or several representatives).
"""

from __future__ import annotations

import random
from typing import Any

from stdnum.vn import mst

RawData = dict[str, Any]


def _data(
    code: str,
    name: str,
    *,
    status: str | None,
    representatives: list[str] | str | None,
    **main: Any,
) -> RawData:
    data: RawData = {
        "MainInformation": {"NAME": name, "ENTERPRISE_GDT_CODE": code, **main},
    }
    if status is not None:
        data["MainInformation"]["ENTERPRISE_STATUS_NAME"] = status
    if isinstance(representatives, str):  # one representative: an object, as some replies do
        data["Representatives"] = {"FULL_NAME": representatives}
    elif representatives is not None:
        data["Representatives"] = [{"FULL_NAME": n} for n in representatives]
    return data


def fixture_businesses() -> dict[str, RawData]:
    """The named businesses tests rely on (issue #3), keyed by compact tax code."""
    records = [
        _data(
            "1801234562",
            "CÔNG TY TNHH THƯƠNG MẠI DỊCH VỤ NINH KIỀU",
            status="Đang hoạt động",
            representatives=["Nguyễn Văn Minh", "Trần Thị Thu Hà"],
            SHORT_NAME="NINH KIEU TMDV CO., LTD",
            NAME_F="NINH KIEU TRADING SERVICE COMPANY LIMITED",
            ENTERPRISE_TYPE_NAME="Công ty trách nhiệm hữu hạn hai thành viên trở lên",
            FOUNDING_DATE="2015-03-20T00:00:00",
            CAPITAL_AMOUNT=5000000000,
            ENTERPRISE_ID="1801234562",
            LEGAL_NAMES="Nguyễn Văn Minh, Trần Thị Thu Hà",
        ),
        _data(
            "1800998879",
            "CÔNG TY CỔ PHẦN THỦY SẢN CÁI RĂNG",
            status="Đang hoạt động",
            representatives="Lê Hoàng Phúc",
            SHORT_NAME="CAI RANG SEAFOOD JSC",
            NAME_F="CAI RANG SEAFOOD JOINT STOCK COMPANY",
            ENTERPRISE_TYPE_NAME="Công ty cổ phần",
            FOUNDING_DATE="20/11/2008",
            CAPITAL_AMOUNT="12.500.000.000",
            ENTERPRISE_ID="287611",
        ),
        _data(
            "1800000113",
            "CÔNG TY TNHH XÂY DỰNG PHONG ĐIỀN",
            status="Đã giải thể",
            representatives=["Phạm Quốc Bảo"],
            ENTERPRISE_TYPE_NAME="Công ty trách nhiệm hữu hạn một thành viên",
            FOUNDING_DATE="2003-07-01",
            CAPITAL_AMOUNT="1500000000",
            ENTERPRISE_ID="18113",
        ),
        _data(
            "1800000113-001",
            "CHI NHÁNH CÔNG TY TNHH XÂY DỰNG PHONG ĐIỀN TẠI BÌNH THỦY",
            status="Đang hoạt động",
            representatives="Võ Thị Ngọc Hân",
            ENTERPRISE_TYPE_NAME="Chi nhánh",
            FOUNDING_DATE="/Date(1262278800000+0700)/",
            ENTERPRISE_ID="18113-1",
        ),
        _data(
            "1800000120",
            "CÔNG TY TNHH DU LỊCH BẾN NINH KIỀU",
            status="Tạm ngừng kinh doanh",
            representatives=["Huỳnh Văn Tài"],
            ENTERPRISE_TYPE_NAME="Công ty trách nhiệm hữu hạn một thành viên",
            FOUNDING_DATE="20190415",
            CAPITAL_AMOUNT="800,000,000.00",
        ),
        _data(
            "1800000138",
            "CÔNG TY TNHH CƠ KHÍ Ô MÔN",
            status="Không hoạt động tại địa chỉ đã đăng ký",
            representatives=["Đặng Minh Trí"],
            FOUNDING_DATE="2011-09-09",
        ),
        # the bare minimum: no status, address, representatives or any optional field
        _data("1800000145", "HỘ KINH DOANH TẠP HÓA THỐT NỐT", status=None, representatives=None),
    ]
    addresses = {
        "1801234562": "Số 12 đường Hai Bà Trưng, phường Tân An, quận Ninh Kiều, thành phố Cần Thơ",
        "1800998879": "Lô 2-20 khu công nghiệp Hưng Phú, phường Tân Phú, quận Cái Răng, "
        "thành phố Cần Thơ",
        "1800000113": "Ấp Thị Tứ, thị trấn Phong Điền, huyện Phong Điền, thành phố Cần Thơ",
        "1800000113-001": "Số 5 đường Lê Hồng Phong, phường Bình Thủy, quận Bình Thủy, "
        "thành phố Cần Thơ",
        "1800000120": "Số 1 đường Hai Bà Trưng, phường Tân An, quận Ninh Kiều, thành phố Cần Thơ",
        "1800000138": "Số 88 đường 26 tháng 3, phường Châu Văn Liêm, quận Ô Môn, thành phố Cần Thơ",
    }
    out: dict[str, RawData] = {}
    for data in records:
        code = data["MainInformation"]["ENTERPRISE_GDT_CODE"]
        if code in addresses:
            data["HOAdress"] = {"AddressFullText": addresses[code]}
        out[code.replace("-", "")] = data
    return out


_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ"]
_MIDDLE = ["Văn", "Thị", "Minh", "Hoàng", "Ngọc", "Thanh", "Quốc", "Thị Thu"]
_GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Nam", "Phúc", "Thảo"]
_TRADE = [
    "THƯƠNG MẠI",
    "XÂY DỰNG",
    "THỦY SẢN",
    "LƯƠNG THỰC",
    "VẬN TẢI THỦY",
    "DU LỊCH SÔNG NƯỚC",
    "NÔNG SẢN",
    "CƠ KHÍ",
    "DỊCH VỤ ĂN UỐNG",
    "CÔNG NGHỆ THÔNG TIN",
]
_PLACES = [
    ("NINH KIỀU", "Tân An", "quận Ninh Kiều"),
    ("CÁI RĂNG", "Lê Bình", "quận Cái Răng"),
    ("BÌNH THỦY", "An Thới", "quận Bình Thủy"),
    ("Ô MÔN", "Châu Văn Liêm", "quận Ô Môn"),
    ("THỐT NỐT", "Thốt Nốt", "quận Thốt Nốt"),
    ("PHONG ĐIỀN", "Nhơn Ái", "huyện Phong Điền"),
    ("CỜ ĐỎ", "Trung An", "huyện Cờ Đỏ"),
    ("VĨNH THẠNH", "Thạnh An", "huyện Vĩnh Thạnh"),
]
_KINDS = [
    ("CÔNG TY TNHH", "Công ty trách nhiệm hữu hạn một thành viên"),
    ("CÔNG TY CỔ PHẦN", "Công ty cổ phần"),
    ("DOANH NGHIỆP TƯ NHÂN", "Doanh nghiệp tư nhân"),
]
_STATUSES = ["Đang hoạt động"] * 7 + ["Tạm ngừng kinh doanh", "Đã giải thể", "Giải thể"]


def generated_businesses(count: int, seed: int) -> dict[str, RawData]:
    """``count`` deterministic businesses with valid tax codes (prefix 18, Cần Thơ)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    out: dict[str, RawData] = {}
    while len(out) < count:
        base = "18" + f"{rng.randrange(10**7):07d}"
        check = mst.calc_check_digit(base)
        if check == "10":
            continue
        code = base + check
        if code in out or code.startswith("1800000"):  # keep clear of the fixtures
            continue
        kind, type_name = rng.choice(_KINDS)
        place, ward, district = rng.choice(_PLACES)
        n_reps = rng.choice([1, 1, 2, 3])
        reps = [
            f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
            for _ in range(n_reps)
        ]
        data = _data(
            code,
            f"{kind} {rng.choice(_TRADE)} {place}",
            status=rng.choice(_STATUSES),
            representatives=reps[0] if n_reps == 1 and rng.random() < 0.5 else reps,
            ENTERPRISE_TYPE_NAME=type_name,
            FOUNDING_DATE=f"{rng.randint(1995, 2024)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}T00:00:00",
            CAPITAL_AMOUNT=rng.choice([500, 1000, 2000, 5000, 10000]) * 1_000_000,
            ENTERPRISE_ID=str(rng.randrange(100000, 999999)),
        )
        data["HOAdress"] = {
            "AddressFullText": f"Số {rng.randint(1, 300)} đường số {rng.randint(1, 30)}, "
            f"phường {ward}, {district}, thành phố Cần Thơ"
        }
        out[code] = data
    return out
