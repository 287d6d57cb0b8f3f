"""The 12-digit personal id number (số định danh cá nhân, printed on the CCCD card).

Layout (Circular 07/2016/TT-BCA, amended by Circular 59/2021/TT-BCA):

* digits 1–3: province where the birth was registered (:data:`PROVINCE_CODES`;
  the 63 codes stay valid after the 2025 provincial merger);
* digit 4: century and gender — 0/1 the 1900s male/female, 2/3 the 2000s,
  4/5 the 2100s, 6/7 the 2200s, 8/9 the 2300s (even male, odd female);
* digits 5–6: the last two digits of the birth year;
* digits 7–12: random; there is no check digit.

:func:`check_id_number` checks a number against the birth date and gender a
caller claims before anything is sent upstream. The 9-digit number of the old
identity card (CMND) is refused: the national database is queried by the
12-digit id. No message here ever repeats the number, or any part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from adapters.population.models import BirthDate, Gender
from gateway.errors import InvalidValue

__all__ = [
    "ID_NUMBER_LENGTH",
    "PROVINCE_CODES",
    "IdNumberField",
    "IdNumberInfo",
    "InvalidIdNumber",
    "check_id_number",
    "id_number_format_error",
    "parse_id_number",
]

ID_NUMBER_LENGTH = 12
OLD_ID_CARD_LENGTH = 9
_FIELD = "id_number"

#: Province codes of birth registration (Circular 07/2016/TT-BCA, appendix).
PROVINCE_CODES: MappingProxyType[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)


class InvalidIdNumber(InvalidValue):
    """A personal id that cannot be parsed; the message never contains the number."""


@dataclass(frozen=True)
class IdNumberInfo:
    """What the first six digits of a personal id say.

    ``century`` is the birth year's leading digits (19 for 1990, 20 for 2003).
    """

    province_code: str
    province_name: str
    century: int
    gender: Gender
    year_2digits: int

    @property
    def birth_year(self) -> int:
        """The birth year the number encodes (century and the two year digits)."""
        return self.century * 100 + self.year_2digits


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def id_number_format_error(id_number: str) -> str | None:
    """Why ``id_number`` is not 12 ASCII digits, or None when it is."""
    if id_number and not _is_ascii_digits(id_number):
        return "must contain only the digits 0-9"
    if len(id_number) == OLD_ID_CARD_LENGTH:
        return (
            "a 9-digit old identity card (CMND) number is not accepted; "
            "send the 12-digit personal id (CCCD)"
        )
    if len(id_number) != ID_NUMBER_LENGTH:
        return f"must be exactly {ID_NUMBER_LENGTH} digits"
    return None


def _checked_id_number(value: str) -> str:
    problem = id_number_format_error(value)
    if problem is not None:
        raise PydanticCustomError("id_number", problem)
    return value


#: A request field holding a personal id: 12 ASCII digits (the 422 says what is wrong,
#: never the value), and never shown in a ``repr``.
IdNumberField = Annotated[str, AfterValidator(_checked_id_number), Field(repr=False)]


def parse_id_number(id_number: str) -> IdNumberInfo:
    """The province, century, gender and birth-year digits of a 12-digit personal id.

    Raises :class:`InvalidIdNumber` for a malformed number or an unknown province.
    """
    problem = id_number_format_error(id_number)
    if problem is not None:
        raise InvalidIdNumber(f"personal id {problem}")
    province_code = id_number[:3]
    province_name = PROVINCE_CODES.get(province_code)
    if province_name is None:
        raise InvalidIdNumber("personal id: the first three digits are not a known province code")
    century_gender = int(id_number[3])
    return IdNumberInfo(
        province_code=province_code,
        province_name=province_name,
        century=19 + century_gender // 2,
        gender="male" if century_gender % 2 == 0 else "female",
        year_2digits=int(id_number[4:6]),
    )


def check_id_number(
    id_number: str, birth_date: BirthDate | None, gender: Gender | None
) -> list[dict[str, str]]:
    """Every way ``id_number`` disagrees with itself or with the claimed birth date and gender.

    Returns ``[{"field": "id_number", "message": ...}]`` entries (empty when consistent),
    ready for :class:`gateway.errors.InvalidRequest`. ``birth_date`` and ``gender``
    are optional (a look-up claims neither); only what is given is checked.
    """
    try:
        info = parse_id_number(id_number)
    except InvalidIdNumber as exc:
        return [{"field": _FIELD, "message": str(exc)}]
    errors: list[dict[str, str]] = []
    if birth_date is not None:
        if info.century != birth_date.year // 100:
            errors.append(
                {
                    "field": _FIELD,
                    "message": "the century digit (4th digit) does not agree with the "
                    "birth year in birth_date",
                }
            )
        if info.year_2digits != birth_date.year % 100:
            errors.append(
                {
                    "field": _FIELD,
                    "message": "the year digits (5th and 6th digits) do not agree with the "
                    "birth year in birth_date",
                }
            )
    if gender is not None and info.gender != gender:
        errors.append(
            {
                "field": _FIELD,
                "message": "the gender digit (4th digit) does not agree with gender",
            }
        )
    return errors
