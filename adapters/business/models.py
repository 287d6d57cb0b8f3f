"""What the business adapter gives: one normalised business record, plain values, no JSON."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

BusinessStatus = Literal["active", "suspended", "dissolved", "other"]

# National status texts (ENTERPRISE_STATUS_NAME), compared after NFC, casefold and
# whitespace collapsing. Only exact texts map: "Đang làm thủ tục giải thể" (being
# dissolved) is not yet "dissolved", so it stays "other".
_STATUS_TEXTS: dict[str, BusinessStatus] = {
    "đang hoạt động": "active",
    "hoạt động": "active",
    "tạm ngừng kinh doanh": "suspended",
    "tạm ngừng hoạt động": "suspended",
    "tạm ngưng kinh doanh": "suspended",
    "tạm ngưng hoạt động": "suspended",
    "đã giải thể": "dissolved",
    "giải thể": "dissolved",
}


def _fold_status(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return re.sub(r"\s+", " ", text).strip()


def status_code_for(text: str | None) -> BusinessStatus:
    """The stable status code of a national status text; unknown or missing → ``other``."""
    if not text:
        return "other"
    return _STATUS_TEXTS.get(_fold_status(text), "other")


@dataclass(frozen=True)
class BusinessRecord:
    """One enterprise or branch as the registration database describes it.

    Representatives are natural persons: kept out of ``repr`` so they never reach a log.
    """

    tax_code: str  # ENTERPRISE_GDT_CODE, as asked: 10 digits or 10-3 for a branch
    name: str  # NAME
    short_name: str | None = None  # SHORT_NAME
    foreign_name: str | None = None  # NAME_F
    enterprise_type: str | None = None  # ENTERPRISE_TYPE_NAME
    status_text: str | None = None  # ENTERPRISE_STATUS_NAME, the national text
    status_code: BusinessStatus = "other"
    founding_date: dt.date | None = None  # FOUNDING_DATE
    head_office_address: str | None = None  # HOAdress.AddressFullText
    representatives: list[str] = field(default_factory=list, repr=False)  # FULL_NAME each
    charter_capital: int | None = None  # CAPITAL_AMOUNT, whole dong
    enterprise_id: str | None = None  # ENTERPRISE_ID

    @property
    def is_branch(self) -> bool:
        return "-" in self.tax_code
