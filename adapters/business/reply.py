"""Mapping an NGSP ``chiTietDoanhNghiep`` reply onto :class:`BusinessRecord`.

The reply's quirks stay here: ``Data.Representatives`` is an object in some replies and an
array in others, ``HOAdress`` is spelled so, optional fields go missing, dates and amounts
arrive in several spellings. A reply whose *shape* cannot be mapped (no ``Data`` object, no
``MainInformation``, no ``NAME``, a list where text belongs, another tax code than the one
asked) raises :class:`ReplyShapeError`; an unreadable optional *value* becomes ``None``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import structlog

from adapters.business.models import BusinessRecord, status_code_for

_log = structlog.get_logger("adapters.business")


class ReplyShapeError(ValueError):
    """The reply cannot be mapped; the message names the field, never its value."""


def compact_tax_code(code: str) -> str:
    """Digits only: ``0100233488-001`` → ``0100233488001``."""
    return re.sub(r"[\s.\-]", "", code)


def is_empty_reply(reply: Any) -> bool:
    """True when the reply says "no such business": ``Data`` null, absent, ``{}`` or ``[]``."""
    return isinstance(reply, dict) and reply.get("Data") in (None, {}, [])


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ReplyShapeError(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ReplyShapeError(f"{key} is not text")
    text = str(value).strip()
    if not text:
        if required:
            raise ReplyShapeError(f"{key} is empty")
        return None
    return text


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y%m%d", "%Y/%m/%d")
_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_founding_date(raw: Any) -> dt.date | None:
    """A date from ISO (with or without time), dd/MM/yyyy, yyyyMMdd, /Date(ms)/ or epoch ms."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return dt.datetime.fromtimestamp(raw / 1000, tz=dt.UTC).date()
    if not isinstance(raw, str):
        raise ReplyShapeError("FOUNDING_DATE is not text")
    text = raw.strip()
    if m := _DOTNET_DATE.match(text):
        # .NET JSON dates are UTC milliseconds; the offset says where the date was meant
        offset = m.group(2)
        tz = dt.UTC
        if offset:
            sign = 1 if offset[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
        return dt.datetime.fromtimestamp(int(m.group(1)) / 1000, tz=tz).date()
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", text):
        text = text[:10]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    _log.warning("business.reply_unreadable_value", field="FOUNDING_DATE")
    return None


_GROUPED = re.compile(r"^\d{1,3}(?:([.,\s])\d{3})(?:\1\d{3})*$")


_GROUPED_WITH_DECIMALS = re.compile(r"^(\d{1,3}(?:,\d{3})+)\.0+$|^(\d{1,3}(?:\.\d{3})+),0+$")


def parse_capital(raw: Any) -> int | None:
    """Whole dong from an int, an integral float or text like ``5000000000``,
    ``5.000.000.000``, ``5,000,000,000`` or ``5000000000.00``."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ReplyShapeError("CAPITAL_AMOUNT is not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else round(raw)
    if not isinstance(raw, str):
        raise ReplyShapeError("CAPITAL_AMOUNT is not a number")
    text = raw.strip()
    if text.isdigit():
        return int(text)
    if _GROUPED.match(text):
        return int(re.sub(r"\D", "", text))
    if m := _GROUPED_WITH_DECIMALS.match(text):  # 5,000,000,000.00 or 5.000.000.000,00
        return int(re.sub(r"\D", "", m.group(1) or m.group(2)))
    if m := re.match(r"^(\d+)[.,](\d+)$", text):
        return int(m.group(1)) + (1 if m.group(2)[0] >= "5" else 0)
    _log.warning("business.reply_unreadable_value", field="CAPITAL_AMOUNT")
    return None


def _representatives(data: dict[str, Any], main: dict[str, Any]) -> list[str]:
    reps = data.get("Representatives")
    if reps is None:
        legal = _text(main, "LEGAL_NAMES")
        return [n.strip() for n in re.split(r"[,;]", legal) if n.strip()] if legal else []
    items = [reps] if isinstance(reps, dict) else reps
    if not isinstance(items, list):
        raise ReplyShapeError("Representatives is neither an object nor an array")
    names: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise ReplyShapeError("Representatives holds a non-object")
        name = _text(item, "FULL_NAME")
        if name:
            names.append(name)
    return names


def record_from_reply(reply: Any, asked: str) -> BusinessRecord:
    """Map a non-empty reply to a record; ``asked`` is the tax code that was sent."""
    if not isinstance(reply, dict):
        raise ReplyShapeError("reply is not a JSON object")
    data = reply.get("Data")
    if not isinstance(data, dict):
        raise ReplyShapeError("Data is not an object")
    main = data.get("MainInformation")
    if not isinstance(main, dict):
        raise ReplyShapeError("Data.MainInformation is missing")
    name = _text(main, "NAME", required=True)
    assert name is not None  # required=True never returns None
    gdt_code = _text(main, "ENTERPRISE_GDT_CODE")
    if gdt_code is not None and compact_tax_code(gdt_code) != compact_tax_code(asked):
        raise ReplyShapeError("ENTERPRISE_GDT_CODE differs from the tax code asked")
    address_obj = data.get("HOAdress")
    if address_obj is not None and not isinstance(address_obj, dict):
        raise ReplyShapeError("HOAdress is not an object")
    address = _text(address_obj, "AddressFullText") if address_obj else None
    status_text = _text(main, "ENTERPRISE_STATUS_NAME")
    return BusinessRecord(
        tax_code=asked,
        name=name,
        short_name=_text(main, "SHORT_NAME"),
        foreign_name=_text(main, "NAME_F"),
        enterprise_type=_text(main, "ENTERPRISE_TYPE_NAME"),
        status_text=status_text,
        status_code=status_code_for(status_text),
        founding_date=parse_founding_date(main.get("FOUNDING_DATE")),
        head_office_address=address,
        representatives=_representatives(data, main),
        charter_capital=parse_capital(main.get("CAPITAL_AMOUNT")),
        enterprise_id=_text(main, "ENTERPRISE_ID"),
    )
