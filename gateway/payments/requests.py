"""The body of ``POST /v1/payments``: validated into :class:`PaymentRequest`, with precise 422s.

Amounts are whole dong: JSON integers (as JSON Schema counts them, so ``1000.0`` is
the integer 1000; never strings, fractions or booleans); the total is the sum of
the fee lines. Codes are taken as sent (their pattern admits no whitespace); names
must not be blank and lose surrounding whitespace after validation, so a length
limit counts what was sent, as ``gateway/openapi.json`` says. The payer's name and
personal id are checked for shape only and never appear in an error message. The
fingerprint that guards the ``Idempotency-Key`` is the SHA-256 of the validated body in
canonical JSON (sorted keys, no spaces), so key order and whitespace do not count as
"another body".
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from gateway.problems import BODY_FIELD, BadRequest, Problem, ValidationFailed

#: One line or the whole bill: a generous ceiling (10^11 dong) that catches unit mistakes.
MAX_AMOUNT = 100_000_000_000
_CODE = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
#: ``Idempotency-Key``: 1-255 visible ASCII characters (a UUID is typical).
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

#: Messages for fields whose pydantic message could be unclear or echo a pattern.
_FRIENDLY: dict[tuple[str, ...], str] = {
    ("payer", "id_number"): (
        "must be a 12-digit personal id (CCCD) or a 9-digit identity card (CMND)"
    ),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    """``value`` without surrounding whitespace; refused when nothing else is left."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value.strip()


class FeeLineRequest(_Strict):
    """One line of the bill: a fee (phí) or a charge (lệ phí), in whole dong."""

    kind: Literal["fee", "charge"]
    code: StrictStr = Field(pattern=_CODE)
    name: StrictStr = Field(min_length=1, max_length=255)
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT)

    @field_validator("amount", mode="before")
    @classmethod
    def _integral_number(cls, value: object) -> object:
        """A JSON number with no fraction (``1000.0``) is that integer, as in JSON Schema."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        return _not_blank(value)


class PayerRequest(_Strict):
    """Who pays (printed on the receipt; never logged, never in URLs or webhooks)."""

    full_name: StrictStr = Field(min_length=1, max_length=100, repr=False)
    id_number: StrictStr = Field(pattern=r"^([0-9]{12}|[0-9]{9})$", repr=False)

    @field_validator("full_name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        return _not_blank(value)


class PaymentRequest(_Strict):
    """A validated ``POST /v1/payments`` body."""

    dossier_code: StrictStr = Field(pattern=_CODE)
    procedure_code: StrictStr = Field(pattern=_CODE)
    agency_code: StrictStr = Field(pattern=_CODE)
    fee_lines: list[FeeLineRequest] = Field(min_length=1, max_length=50)
    payer: PayerRequest
    return_url: StrictStr = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    provider: StrictStr | None = None

    @property
    def total(self) -> int:
        """The amount billed: the sum of the lines."""
        return sum(line.amount for line in self.fee_lines)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the body in canonical JSON: what the idempotency key is bound to."""
        canonical = json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_payment_request(
    data: Any, *, return_url_prefixes: list[str], providers: list[str]
) -> PaymentRequest:
    """Validate ``data``; :class:`ValidationFailed` naming every bad field (never its value)."""
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": BODY_FIELD, "message": "must be a JSON object"}])
    try:
        request = PaymentRequest.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc, messages=_FRIENDLY) from None
    problems: list[dict[str, str]] = []
    if request.total > MAX_AMOUNT:
        problems.append({"field": "fee_lines", "message": "the total is too large"})
    if not any(request.return_url.startswith(p) for p in return_url_prefixes if p):
        problems.append(
            {"field": "return_url", "message": "not among this client's allowed return URLs"}
        )
    if request.provider is not None and request.provider not in providers:
        problems.append(
            {
                "field": "provider",
                "message": f"unknown provider; configured: {', '.join(providers)}",
            }
        )
    if problems:
        raise ValidationFailed(problems)
    return request


class IdempotencyKeyRequired(Problem):
    """428: ``POST /v1/payments`` needs an ``Idempotency-Key`` header."""

    status = 428
    type_name = "idempotency-key-required"
    title = "Idempotency-Key header required"


def idempotency_key_of(value: str | None) -> str:
    """The header's value; 428 when missing, 400 when malformed."""
    if value is None or value == "":
        raise IdempotencyKeyRequired(
            "send an Idempotency-Key header (e.g. a UUID) so that a retry cannot pay twice"
        )
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest(
            "Idempotency-Key must be 1-255 visible ASCII characters",
            type_name="malformed-idempotency-key",
        )
    return value
