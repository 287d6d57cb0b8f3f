"""Who asked, for what, on whose behalf: the optional context of a citizen or business request.

``POST /v1/citizens/verify`` and ``/lookup`` accept, besides the citizen's fields:

==================  =========================================  ==========================
field               what it is                                 sent upstream as
==================  =========================================  ==========================
``agency_code``     the agency handling the dossier            ``MaDonVi``
``procedure_code``  the public service / procedure             ``MaDVC``
``officer_id``      the officer's own 12-digit personal id     ``MaCanBo``
``purpose``         why the citizen's data is processed        (audited only)
``dossier_code``    the dossier it is processed for            (audited only)
==================  =========================================  ==========================

Codes (:data:`CODE_PATTERN`) follow the payments API's rule: 1-64 characters of
letters, digits and ``. _ : / -``, starting with a letter or digit (the
electronic agency codes of Decision 20/2020/QĐ-TTg, ``000.00.31.H29``, and
procedure codes such as ``1.001234`` fit). ``officer_id`` is personal data and is
checked as a citizen's id is: 12 ASCII digits with a known province code (the old
9-digit CMND is refused, as for citizens: MaCanBo is "the officer's id number").
It never appears in an error message, a log line or an audit record in clear:
the audit record holds it masked (``001*******01``) and as the audit log's keyed
digest. ``purpose`` and ``dossier_code`` are recorded with any stand-alone 9- or
12-digit number in them masked (free text may quote an id).

``GET /v1/businesses/{tax_code}`` takes ``agency_code`` and ``procedure_code`` as
query parameters, validated the same way (:func:`parse_business_context`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from gateway.citizens.cccd import InvalidIdNumber, parse_id_number
from gateway.logging import mask_id, mask_text
from gateway.problems import ValidationFailed

__all__ = [
    "CODE_PATTERN",
    "BusinessContextError",
    "ContextFields",
    "RequestContext",
    "code_error",
    "officer_id_error",
    "parse_business_context",
]

#: agency_code, procedure_code (and the payments API's codes): bounded, a safe charset.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
_CODE = re.compile(CODE_PATTERN)
_CODE_MESSAGE = "must be 1-64 letters, digits or . _ : / - (starting with a letter or digit)"
#: Control, format (zero-width, bidi), surrogate and private-use characters.
_NOT_IN_TEXT = frozenset({"Cc", "Cf", "Cs", "Co"})
MAX_PURPOSE_LENGTH = 500
MAX_DOSSIER_CODE_LENGTH = 64


def code_error(value: str) -> str | None:
    """Why ``value`` is not an agency or procedure code, or None when it is one."""
    return None if _CODE.fullmatch(value) else _CODE_MESSAGE


def officer_id_error(value: str) -> str | None:
    """Why ``value`` is not an officer's personal id (never repeating it), or None."""
    try:
        parse_id_number(value)
    except InvalidIdNumber as exc:
        return str(exc).removeprefix("personal id").lstrip(": ").strip() or "is not valid"
    return None


def _free_text_error(value: str) -> str | None:
    if not value.split():
        return "must not be blank"
    # The rule names follow (gateway.citizens.verdicts._NOT_IN_NAMES), so the document's
    # one pattern fits both (tests/contract/patterns.py pins them).
    if any(unicodedata.category(ch) in _NOT_IN_TEXT and not ch.isspace() for ch in value):
        return "must not contain control or formatting characters"
    return None


class ContextFields(BaseModel):
    """The optional context fields, shared by the verify and look-up bodies.

    Subclasses set the model config (strict, extra fields forbidden, input hidden).
    """

    agency_code: str | None = None
    procedure_code: str | None = None
    officer_id: str | None = Field(default=None, repr=False)
    purpose: str | None = Field(default=None, min_length=1, max_length=MAX_PURPOSE_LENGTH)
    dossier_code: str | None = Field(default=None, min_length=1, max_length=MAX_DOSSIER_CODE_LENGTH)

    @field_validator("agency_code", "procedure_code")
    @classmethod
    def _a_code(cls, value: str | None) -> str | None:
        if value is not None and (problem := code_error(value)) is not None:
            raise PydanticCustomError("code", problem)
        return value

    @field_validator("officer_id")
    @classmethod
    def _an_officer_id(cls, value: str | None) -> str | None:
        if value is not None and (problem := officer_id_error(value)) is not None:
            raise PydanticCustomError("officer_id", problem)
        return value

    @field_validator("purpose", "dossier_code")
    @classmethod
    def _printable_text(cls, value: str | None) -> str | None:
        if value is not None and (problem := _free_text_error(value)) is not None:
            raise PydanticCustomError("text", problem)
        return value

    @property
    def context(self) -> RequestContext:
        """These fields as a :class:`RequestContext`."""
        return RequestContext(
            agency_code=self.agency_code,
            procedure_code=self.procedure_code,
            officer_id=self.officer_id,
            purpose=self.purpose,
            dossier_code=self.dossier_code,
        )


@dataclass(frozen=True)
class RequestContext:
    """Who asked, for what, on whose behalf (every part optional)."""

    agency_code: str | None = None
    procedure_code: str | None = None
    officer_id: str | None = field(default=None, repr=False)
    purpose: str | None = None
    dossier_code: str | None = None

    def audit_detail(self, digest: Callable[[str], str]) -> dict[str, str]:
        """``detail["context"]`` of the audit record: only the parts given, the officer
        masked and digested with ``digest`` (the audit log's keyed subject digest)."""
        out: dict[str, str] = {}
        if self.agency_code is not None:
            out["agency_code"] = self.agency_code
        if self.procedure_code is not None:
            out["procedure_code"] = self.procedure_code
        if self.purpose is not None:
            out["purpose"] = mask_text(self.purpose)
        if self.dossier_code is not None:
            out["dossier_code"] = mask_text(self.dossier_code)
        if self.officer_id is not None:
            out["officer_masked"] = mask_id(self.officer_id)
            out["officer_digest"] = digest(self.officer_id)
        return out


class BusinessContextError(ValidationFailed):
    """A bad ``agency_code`` / ``procedure_code`` query parameter (422 naming it)."""


_BUSINESS_PARAMETERS = ("agency_code", "procedure_code")


def parse_business_context(query: MultiMapping[str]) -> RequestContext:
    """``agency_code`` and ``procedure_code`` from a query string; 422 naming each bad one.

    A parameter given twice is refused (which one counts would be a guess).
    """
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in _BUSINESS_PARAMETERS:
        given: list[str] = list(query.getall(name, []))
        if not given:
            continue
        if len(given) > 1:
            errors.append({"field": name, "message": "must be given at most once"})
            continue
        problem = code_error(given[0])
        if problem is not None:
            errors.append({"field": name, "message": problem})
        else:
            values[name] = given[0]
    if errors:
        raise BusinessContextError(errors)
    return RequestContext(**values)
