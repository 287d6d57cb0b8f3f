"""What the population adapter takes and gives: plain values, no SOAP, no personal data in repr."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Gender = Literal["male", "female"]


@dataclass(frozen=True)
class BirthDate:
    """A birth date as the database knows it: a full date, or a year only."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def is_full(self) -> bool:
        return self.month is not None and self.day is not None

    def as_date(self) -> dt.date | None:
        if self.month is None or self.day is None:
            return None
        return dt.date(self.year, self.month, self.day)

    def iso(self) -> str:
        d = self.as_date()
        return d.isoformat() if d else f"{self.year:04d}"


@dataclass(frozen=True)
class Address:
    province_code: str | None = None  # MaTinhThanh
    ward_code: str | None = None  # MaPhuongXa
    detail: str | None = None  # ChiTiet


@dataclass(frozen=True)
class CitizenQuery:
    """One look-up (TraCuuThongTinCongDan). ``request_id`` becomes ``MaYeuCau``.

    Fields left ``None`` take the deployment's defaults from the adapter config
    (MaDVC, MaTichHop, MaCanBo, MaDonVi, TaiKhoan, SoDienThoai).
    """

    id_number: str = field(repr=False)
    full_name: str | None = field(default=None, repr=False)
    birth_date: BirthDate | None = field(default=None, repr=False)
    request_id: str | None = None
    service_code: str | None = None  # MaDVC
    officer_id: str | None = field(default=None, repr=False)  # MaCanBo
    agency_code: str | None = None  # MaDonVi


@dataclass(frozen=True)
class CitizenRecord:
    """One citizen as the database returned it (``CongdanCollection/CongDan``)."""

    id_number: str = field(repr=False)  # SoDinhDanh
    old_id_number: str | None = field(default=None, repr=False)  # SoCMND
    family_name: str = field(default="", repr=False)  # HoVaTen/Ho
    middle_name: str = field(default="", repr=False)  # HoVaTen/ChuDem
    given_name: str = field(default="", repr=False)  # HoVaTen/Ten
    gender: Gender | None = None  # GioiTinh
    ethnicity: str | None = None  # DanToc
    birth_date: BirthDate | None = field(default=None, repr=False)
    current_address: Address | None = field(default=None, repr=False)  # NoiOHienTai
    hometown: Address | None = field(default=None, repr=False)  # QueQuan
    permanent_address: Address | None = field(default=None, repr=False)  # ThuongTru

    @property
    def full_name(self) -> str:
        """The name parts joined with single spaces (empty parts skipped)."""
        parts = (self.family_name, self.middle_name, self.given_name)
        return " ".join(p.strip() for p in parts if p and p.strip())
