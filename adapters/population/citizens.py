"""The sandbox's fictional citizens: five fixtures and a seeded, plausible crowd.

Every id agrees with its holder: digits 1–3 the province of birth registration,
digit 4 the century and gender, digits 5–6 the birth year. Nobody here exists.
"""

from __future__ import annotations

import random
import unicodedata

from adapters.population.models import Address, BirthDate, CitizenRecord, Gender
from adapters.population.names import split_full_name

#: (CCCD province code, MaTinhThanh, province name, two ward codes)
_PROVINCES: tuple[tuple[str, str, str, tuple[str, str]], ...] = (
    ("001", "01", "Hà Nội", ("00004", "00028")),
    ("031", "31", "Hải Phòng", ("11311", "11320")),
    ("048", "48", "Đà Nẵng", ("20194", "20209")),
    ("079", "79", "Hồ Chí Minh", ("26734", "26740")),
    ("092", "92", "Cần Thơ", ("31117", "31120")),
    ("093", "93", "Hậu Giang", ("31321", "31333")),
    ("094", "94", "Sóc Trăng", ("31507", "31510")),
)
_FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
_MIDDLE: dict[Gender, tuple[str, ...]] = {
    "male": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công"),
    "female": ("Thị", "Ngọc", "Thu", "Bảo", "Kim", "Thị Thanh"),
}
_GIVEN: dict[Gender, tuple[str, ...]] = {
    "male": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hùng",
        "Khoa",
        "Long",
        "Nam",
        "Phúc",
        "Quang",
        "Sơn",
        "Tâm",
        "Tuấn",
        "Việt",
        "Đạt",
    ),
    "female": (
        "Anh",
        "Chi",
        "Hạnh",
        "Hương",
        "Lan",
        "Linh",
        "Mai",
        "Ngân",
        "Nhung",
        "Phương",
        "Thảo",
        "Trang",
        "Vy",
        "Yến",
        "Thuỷ",
    ),
}
_STREETS = (
    "đường 30 Tháng 4",
    "đường Trần Hưng Đạo",
    "đường Nguyễn Trãi",
    "hẻm 51",
    "đường Mậu Thân",
    "đường Lý Tự Trọng",
)


def _province(cccd_code: str) -> tuple[str, str, str, tuple[str, str]]:
    return next(p for p in _PROVINCES if p[0] == cccd_code)


def _address(cccd_code: str, rng: random.Random) -> Address:
    _, code, name, wards = _province(cccd_code)
    street = rng.choice(_STREETS)
    return Address(code, rng.choice(wards), f"Số {rng.randint(1, 300)}, {street}, {name}")


def citizen(
    id_number: str,
    full_name: str,
    birth: BirthDate,
    gender: Gender,
    rng: random.Random,
) -> CitizenRecord:
    """A full record, name split into Ho/ChuDem/Ten (NFC), addresses in the id's province."""
    family, middle, given = split_full_name(unicodedata.normalize("NFC", full_name))
    home = _address(id_number[:3], rng)
    return CitizenRecord(
        id_number=id_number,
        old_id_number=None,
        family_name=family,
        middle_name=middle,
        given_name=given,
        gender=gender,
        ethnicity="01",  # Kinh
        birth_date=birth,
        current_address=home,
        hometown=_address(id_number[:3], rng),
        permanent_address=home,
    )


def century_gender_digit(year: int, gender: Gender) -> int:
    """Digit 4 of a CCCD: 0/1 for the 1900s male/female, 2/3 for the 2000s, and so on."""
    return (year // 100 - 19) * 2 + (1 if gender == "female" else 0)


def fixture_citizens() -> list[CitizenRecord]:
    """The five citizens the issue names, always present."""
    rng = random.Random(5)  # noqa: S311  # fictional addresses, not security
    return [
        citizen("092090001234", "Nguyễn Văn An", BirthDate(1990, 5, 12), "male", rng),
        citizen("092195004321", "Trần Thị Thủy", BirthDate(1995, 11, 2), "female", rng),
        citizen("094203000777", "Lê Đức Anh", BirthDate(2003, 1, 30), "male", rng),
        citizen("092301000555", "Phạm Ngọc Hoà", BirthDate(2001), "female", rng),
        citizen("093185000999", "Huỳnh Thị Ánh Tuyết", BirthDate(1985, 7, 15), "female", rng),
    ]


def generated_citizens(count: int, seed: int) -> list[CitizenRecord]:
    """``count`` fictional citizens, the same for the same seed; about one in twenty year-only."""
    rng = random.Random(seed)  # noqa: S311  # fictional data, not security
    taken = {c.id_number for c in fixture_citizens()}
    people: list[CitizenRecord] = []
    while len(people) < count:
        gender: Gender = rng.choice(("male", "female"))
        year = rng.randint(1940, 2010)
        province = rng.choice(_PROVINCES)[0]
        id_number = (
            f"{province}{century_gender_digit(year, gender)}{year % 100:02d}"
            f"{rng.randint(0, 999_999):06d}"
        )
        if id_number in taken:
            continue
        taken.add(id_number)
        name = " ".join(
            (rng.choice(_FAMILY), rng.choice(_MIDDLE[gender]), rng.choice(_GIVEN[gender]))
        )
        if rng.random() < 0.05:
            born = BirthDate(year)
        else:
            born = BirthDate(year, rng.randint(1, 12), rng.randint(1, 28))
        people.append(citizen(id_number, name, born, gender, rng))
    return people


def citizen_registry(count: int, seed: int) -> dict[str, CitizenRecord]:
    """Fixtures plus generated citizens, by personal id."""
    return {c.id_number: c for c in (*fixture_citizens(), *generated_citizens(count, seed))}
