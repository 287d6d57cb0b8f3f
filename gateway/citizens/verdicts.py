"""The verify request, and the verdict it earns against the registered citizen.

Birth dates, full (``YYYY-MM-DD``) or year only (``YYYY``), compare as follows:

=====================  ======================  =====================================
claimed                registered              verdict
=====================  ======================  =====================================
full date              full date               ``match`` if equal, else ``mismatch``
year                   full date or year       ``match`` if the years are equal
full date              year only               ``mismatch`` if the years differ;
                                               ``not_found`` if they are equal
anything               nothing                 ``not_found``
=====================  ======================  =====================================

Names go through :func:`gateway.citizens.names.compare_names`; a registered
name or gender that is empty is ``not_found`` for that field.

A full date against a registered year only is the conservative case: the
registry cannot confirm the day and month, so the field is ``not_found`` (the
registry holds nothing to check them against) rather than a ``match`` nobody
checked; a caller who only knows the year sends the year and gets ``match``.

The overall verdict: ``not_found`` when there is no citizen; ``mismatch`` when
any field mismatches; ``not_found`` when some field could not be checked;
``match_without_diacritics`` when the name matched only without accents and
everything else matched; otherwise ``match``. Only the fields the caller sent
get a verdict (data minimisation): nothing from the registry is returned.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from adapters.population.models import BirthDate, CitizenRecord, Gender
from gateway.citizens._validation import parse_body, today_in_vietnam
from gateway.citizens._verdict import Verdict
from gateway.citizens.cccd import IdNumberField
from gateway.citizens.context import ContextFields
from gateway.citizens.names import compare_names

__all__ = [
    "IdentityClaim",
    "IdentityVerdict",
    "Verdict",
    "compare_birth_dates",
    "parse_birth_date",
    "parse_claim",
    "verify_claim",
]

MIN_BIRTH_YEAR = 1900
MAX_NAME_LENGTH = 200
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR_ONLY = re.compile(r"[0-9]{4}")
#: Unicode categories a claimed name may not contain (whitespace excepted): controls,
#: format characters (zero-width and bidi controls), surrogates, private use.
#: ``gateway/openapi.json`` carries the same rule as a pattern (tests/contract/patterns.py).
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co"})


def parse_birth_date(value: str) -> BirthDate:
    """``"YYYY-MM-DD"`` or ``"YYYY"`` as a :class:`BirthDate`; ValueError otherwise."""
    if _YEAR_ONLY.fullmatch(value):
        return BirthDate(int(value))
    if _FULL_DATE.fullmatch(value):
        day = dt.date.fromisoformat(value)
        return BirthDate(day.year, day.month, day.day)
    raise ValueError("birth date must be YYYY-MM-DD or YYYY")


def _today(info: ValidationInfo) -> dt.date:
    context = info.context if isinstance(info.context, dict) else {}
    today = context.get("today")
    return today if isinstance(today, dt.date) else today_in_vietnam()


class IdentityClaim(ContextFields):
    """The body of ``POST /v1/citizens/verify``: who the caller says the citizen is.

    Besides the citizen's fields it takes the optional request context
    (:class:`~gateway.citizens.context.ContextFields`: agency, procedure, officer,
    purpose, dossier code), which gets no verdict.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)

    id_number: IdNumberField
    full_name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, repr=False)
    birth_date: str = Field(repr=False)
    gender: Gender | None = None

    @field_validator("full_name")
    @classmethod
    def _a_real_name(cls, value: str) -> str:
        if not value.split():
            raise PydanticCustomError("blank_name", "must not be blank")
        if any(unicodedata.category(ch) in _NOT_IN_NAMES and not ch.isspace() for ch in value):
            raise PydanticCustomError("name_characters", "must not contain control characters")
        return value

    @field_validator("birth_date")
    @classmethod
    def _a_plausible_birth_date(cls, value: str, info: ValidationInfo) -> str:
        try:
            parsed = parse_birth_date(value)
        except ValueError:
            raise PydanticCustomError(
                "birth_date", "must be a valid date as YYYY-MM-DD, or a year as YYYY"
            ) from None
        today = _today(info)
        if parsed.year < MIN_BIRTH_YEAR:
            raise PydanticCustomError("birth_date", f"year must be {MIN_BIRTH_YEAR} or later")
        day = parsed.as_date()
        if parsed.year > today.year or (day is not None and day > today):
            raise PydanticCustomError("birth_date", "must not be in the future")
        return value

    @property
    def parsed_birth_date(self) -> BirthDate:
        """The claimed birth date as the population adapter's :class:`BirthDate`."""
        return parse_birth_date(self.birth_date)


def parse_claim(payload: object, *, today: dt.date | None = None) -> IdentityClaim:
    """Validate a decoded verify body; raise ``ValidationFailed`` (422) naming each bad field."""
    return parse_body(IdentityClaim, payload, today=today)


@dataclass(frozen=True)
class IdentityVerdict:
    """The overall verdict and one verdict per field the caller sent."""

    verdict: Verdict
    fields: dict[str, Verdict] = field(default_factory=dict)

    def to_json(self, request_id: str) -> dict[str, Any]:
        """The response body of ``POST /v1/citizens/verify``."""
        return {
            "verdict": self.verdict.value,
            "fields": {name: v.value for name, v in self.fields.items()},
            "request_id": request_id,
        }


def compare_birth_dates(claimed: BirthDate, registered: BirthDate | None) -> Verdict:
    """The birth-date verdict (see the module table)."""
    if registered is None:
        return Verdict.NOT_FOUND
    if claimed.year != registered.year:
        return Verdict.MISMATCH
    if not claimed.is_full:
        return Verdict.MATCH
    if not registered.is_full:
        return Verdict.NOT_FOUND  # the registry cannot confirm the day and month
    return Verdict.MATCH if claimed.as_date() == registered.as_date() else Verdict.MISMATCH


def _compare_gender(claimed: Gender, registered: Gender | None) -> Verdict:
    if registered is None:
        return Verdict.NOT_FOUND
    return Verdict.MATCH if claimed == registered else Verdict.MISMATCH


def _overall(fields: dict[str, Verdict]) -> Verdict:
    verdicts = set(fields.values())
    for verdict in (Verdict.MISMATCH, Verdict.NOT_FOUND, Verdict.MATCH_WITHOUT_DIACRITICS):
        if verdict in verdicts:
            return verdict
    return Verdict.MATCH


def verify_claim(claim: IdentityClaim, record: CitizenRecord | None) -> IdentityVerdict:
    """Compare a claim with the registered citizen (``None``: no such citizen)."""
    sent = ["id_number", "full_name", "birth_date"] + (["gender"] if claim.gender else [])
    if record is None:
        return IdentityVerdict(Verdict.NOT_FOUND, dict.fromkeys(sent, Verdict.NOT_FOUND))
    fields: dict[str, Verdict] = {
        "id_number": Verdict.MATCH if claim.id_number == record.id_number else Verdict.MISMATCH,
        "full_name": (
            compare_names(claim.full_name, record.full_name)
            if record.full_name
            else Verdict.NOT_FOUND
        ),
        "birth_date": compare_birth_dates(claim.parsed_birth_date, record.birth_date),
    }
    if claim.gender is not None:
        fields["gender"] = _compare_gender(claim.gender, record.gender)
    return IdentityVerdict(_overall(fields), fields)
