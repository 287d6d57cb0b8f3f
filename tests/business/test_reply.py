"""The NGSP reply mapping's tolerance: date and amount spellings, status texts, shapes."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import pytest

from adapters.business.models import status_code_for
from adapters.business.reply import (
    ReplyShapeError,
    is_empty_reply,
    parse_capital,
    parse_founding_date,
    record_from_reply,
)


@pytest.mark.parametrize(
    "raw",
    [
        "2015-03-20",
        "2015-03-20T00:00:00",
        "2015-03-20T00:00:00.000+07:00",
        "2015-03-20 00:00:00",
        "20/03/2015",
        "20-03-2015",
        "20150320",
        "/Date(1426784400000+0700)/",
        1426809600000,
    ],
)
def test_founding_date_spellings(raw: Any) -> None:
    """Every date spelling the national system is seen to send reads as 2015-03-20."""
    assert parse_founding_date(raw) == dt.date(2015, 3, 20)


@pytest.mark.parametrize("raw", [None, "", "not a date", "32/13/2015"])
def test_unreadable_founding_date_is_none(raw: Any) -> None:
    """A missing or unreadable founding date is None, not an error."""
    assert parse_founding_date(raw) is None


@pytest.mark.parametrize(
    ("raw", "dong"),
    [
        (5_000_000_000, 5_000_000_000),
        (5e9, 5_000_000_000),
        ("5000000000", 5_000_000_000),
        ("5.000.000.000", 5_000_000_000),
        ("5,000,000,000", 5_000_000_000),
        ("5 000 000 000", 5_000_000_000),
        ("5,000,000,000.00", 5_000_000_000),
        ("5.000.000.000,00", 5_000_000_000),
        ("5000000000.00", 5_000_000_000),
        (None, None),
        ("", None),
        ("năm tỷ", None),
    ],
)
def test_charter_capital_spellings(raw: Any, dong: int | None) -> None:
    """Charter capital in any seen spelling becomes whole dong (or None when unreadable)."""
    assert parse_capital(raw) == dong


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Đang hoạt động", "active"),
        ("ĐANG HOẠT ĐỘNG", "active"),
        (unicodedata.normalize("NFD", "Đang hoạt động"), "active"),
        ("  Đang   hoạt động ", "active"),
        ("Tạm ngừng kinh doanh", "suspended"),
        ("Đã giải thể", "dissolved"),
        ("Giải thể", "dissolved"),
        ("Đang làm thủ tục giải thể", "other"),
        ("Không hoạt động tại địa chỉ đã đăng ký", "other"),
        (None, "other"),
    ],
)
def test_status_texts(text: str | None, code: str) -> None:
    """Status texts map after NFC and case folding; anything unlisted is "other"."""
    assert status_code_for(text) == code


def _reply(**main: Any) -> dict[str, Any]:
    return {"Data": {"MainInformation": {"NAME": "CÔNG TY A", **main}}}


@pytest.mark.parametrize(
    "reply",
    [
        [],
        {"Data": "ok"},
        {"Data": {"Main": {}}},
        {"Data": {"MainInformation": {"SHORT_NAME": "A"}}},
        {"Data": {"MainInformation": {"NAME": ["A"]}}},
        {"Data": {"MainInformation": {"NAME": "A"}, "Representatives": "Nguyễn Văn A"}},
        {"Data": {"MainInformation": {"NAME": "A"}, "Representatives": ["Nguyễn Văn A"]}},
        {"Data": {"MainInformation": {"NAME": "A"}, "HOAdress": "Cần Thơ"}},
        _reply(ENTERPRISE_GDT_CODE="0100233488"),
    ],
)
def test_unmappable_shapes_are_refused(reply: Any) -> None:
    """Shapes that cannot be mapped (or another business than asked) raise ReplyShapeError."""
    with pytest.raises(ReplyShapeError):
        record_from_reply(reply, "1801234562")


def test_unmappable_reason_never_carries_values() -> None:
    """The refusal names the field, not the (possibly personal) value."""
    with pytest.raises(ReplyShapeError) as caught:
        record_from_reply(
            {"Data": {"MainInformation": {"NAME": "A"}, "Representatives": ["Nguyễn Văn A"]}},
            "1801234562",
        )
    assert "Nguyễn" not in str(caught.value)


@pytest.mark.parametrize("reply", [{"Data": None}, {"Data": {}}, {"Data": []}, {}])
def test_empty_data_means_not_found(reply: Any) -> None:
    """Data null, empty or absent is the not-found signal."""
    assert is_empty_reply(reply)


def test_legal_names_used_when_representatives_absent() -> None:
    """Without Representatives, LEGAL_NAMES (comma separated) gives the list."""
    record = record_from_reply(_reply(LEGAL_NAMES="Nguyễn Văn A; Lê Thị B"), "1801234562")
    assert record.representatives == ["Nguyễn Văn A", "Lê Thị B"]


def test_representatives_not_in_repr() -> None:
    """A record's repr (which may reach a log) leaves out the representatives' names."""
    record = record_from_reply(
        {"Data": {"MainInformation": {"NAME": "A"}, "Representatives": {"FULL_NAME": "Lê Thị B"}}},
        "1801234562",
    )
    assert "Lê Thị B" not in repr(record)
