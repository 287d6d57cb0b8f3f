"""Turning pydantic validation errors into the gateway's 422 without echoing any input."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gateway.problems import ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Vietnam has one time zone, UTC+7 and no daylight saving.
VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")

_BODY_FIELD = "body"


def today_in_vietnam() -> dt.date:
    """Today's date in Vietnam, the default clock for "not in the future" checks."""
    return dt.datetime.now(VIETNAM_TZ).date()


def problem_from(exc: ValidationError) -> ValidationFailed:
    """A :class:`ValidationFailed` naming each bad field with pydantic's message, not the input."""
    errors: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in error["loc"]) or _BODY_FIELD
        errors.append({"field": field, "message": error["msg"]})
    return ValidationFailed(errors)


def parse_body(model: type[ModelT], payload: object, *, today: dt.date | None = None) -> ModelT:
    """Validate a decoded JSON body as ``model``; raise :class:`ValidationFailed` when it is not.

    ``today`` is the clock for date checks (defaults to :func:`today_in_vietnam`).
    """
    context = {"today": today or today_in_vietnam()}
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise problem_from(exc) from None
