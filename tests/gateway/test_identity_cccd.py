"""The personal id number: province codes, parsing and consistency with the claim."""

from __future__ import annotations

import pytest

from adapters.population.models import BirthDate, Gender
from gateway.citizens import PROVINCE_CODES, InvalidIdNumber, check_id_number, parse_id_number


def _messages(errors: list[dict[str, str]]) -> str:
    return " | ".join(e["message"] for e in errors)


def test_province_codes_are_the_63_official_ones() -> None:
    """The mapping holds the 63 three-digit codes, 001 Hà Nội to 096 Cà Mau."""
    assert len(PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCE_CODES)
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["092"] == "Cần Thơ"
    assert PROVINCE_CODES["093"] == "Hậu Giang"
    assert PROVINCE_CODES["094"] == "Sóc Trăng"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    assert "000" not in PROVINCE_CODES
    assert "097" not in PROVINCE_CODES


@pytest.mark.parametrize(
    ("id_number", "province", "year", "gender"),
    [
        ("092090001234", "Cần Thơ", 1990, "male"),
        ("092195004321", "Cần Thơ", 1995, "female"),
        ("094203000777", "Sóc Trăng", 2003, "male"),
        ("092301000555", "Cần Thơ", 2001, "female"),
        ("093185000999", "Hậu Giang", 1985, "female"),
        ("001505000000", "Hà Nội", 2105, "female"),
        ("079600000000", "Hồ Chí Minh", 2200, "male"),
    ],
)
def test_parse_sandbox_ids(id_number: str, province: str, year: int, gender: str) -> None:
    """The first six digits give province, century, gender and birth year."""
    info = parse_id_number(id_number)
    assert info.province_name == province
    assert info.province_code == id_number[:3]
    assert info.birth_year == year
    assert info.century == year // 100
    assert info.year_2digits == year % 100
    assert info.gender == gender


@pytest.mark.parametrize(
    ("id_number", "birth", "gender"),
    [
        ("092090001234", BirthDate(1990, 5, 12), "male"),
        ("092195004321", BirthDate(1995, 11, 2), "female"),
        ("094203000777", BirthDate(2003, 1, 30), "male"),
        ("092301000555", BirthDate(2001), "female"),
        ("093185000999", BirthDate(1985, 7, 15), None),
        ("093185000999", None, None),
    ],
)
def test_consistent_claims_pass(
    id_number: str, birth: BirthDate | None, gender: Gender | None
) -> None:
    """The sandbox citizens' own data (full date or year only, gender or not) is consistent."""
    assert check_id_number(id_number, birth, gender) == []


@pytest.mark.parametrize(
    ("id_number", "expected"),
    [
        ("09209000123", "exactly 12 digits"),
        ("0920900012345", "exactly 12 digits"),
        ("", "exactly 12 digits"),
        ("09209000123A", "only the digits"),
        ("092 90001234", "only the digits"),
        ("\u0660" * 12, "only the digits"),
        ("123456789", "CMND"),
        ("000090001234", "province"),
        ("097090001234", "province"),
    ],
)
def test_malformed_or_unknown_province_ids_are_refused(id_number: str, expected: str) -> None:
    """Wrong length, non-digits, a 9-digit CMND and unknown provinces are errors on id_number."""
    errors = check_id_number(id_number, None, None)
    assert [e["field"] for e in errors] == ["id_number"]
    assert expected in errors[0]["message"]


def test_parse_refuses_with_invalid_id_number() -> None:
    """parse_id_number raises InvalidIdNumber (a ValueError) without the number in it."""
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number("097090001234")
    assert "097090001234" not in str(caught.value)
    assert "097" not in str(caught.value)


def test_century_digit_inconsistent_with_year() -> None:
    """A 2003 birth with century digit 0 (1900s) is refused."""
    errors = check_id_number("094003000777", BirthDate(2003, 1, 30), None)
    assert [e["field"] for e in errors] == ["id_number"]
    assert "century" in errors[0]["message"]


def test_year_digits_inconsistent_with_year() -> None:
    """Birth-year digits that differ from the claimed year are refused (year-only claims too)."""
    errors = check_id_number("092090001234", BirthDate(1991), None)
    assert [e["field"] for e in errors] == ["id_number"]
    assert "year digits" in errors[0]["message"]


def test_gender_inconsistent() -> None:
    """A female claim against an even (male) century/gender digit is refused."""
    errors = check_id_number("092090001234", BirthDate(1990, 5, 12), "female")
    assert len(errors) == 1
    assert "gender" in errors[0]["message"]


def test_every_inconsistency_is_reported() -> None:
    """Century, year digits and gender are all reported at once."""
    errors = check_id_number("092090001234", BirthDate(2005), "female")
    assert len(errors) == 3


@pytest.mark.parametrize(
    ("id_number", "birth", "gender"),
    [
        ("09209000123", None, None),
        ("123456789", None, None),
        ("09209000123X", None, None),
        ("097090001234", None, None),
        ("092090001234", BirthDate(2005), "female"),
        ("094003000777", BirthDate(2003, 1, 30), "female"),
    ],
)
def test_messages_never_contain_the_id(
    id_number: str, birth: BirthDate | None, gender: Gender | None
) -> None:
    """No error message repeats the id (nor its meaningful six-digit prefix)."""
    errors = check_id_number(id_number, birth, gender)
    assert errors
    text = _messages(errors)
    assert id_number not in text
    assert id_number[:6] not in text
