"""Validating a decoded JSON body as a request model: a 422 naming each bad field, not its input."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from adapters.aliases import VIETNAM_TZ
from gateway.problems import ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)


def today_in_vietnam() -> dt.date:
    """Today's date in Vietnam, the default clock for "not in the future" checks."""
    return dt.datetime.now(VIETNAM_TZ).date()


def parse_body(model: type[ModelT], payload: object, *, today: dt.date | None = None) -> ModelT:
    """Validate a decoded JSON body as ``model``; raise :class:`ValidationFailed` when it is not.

    ``today`` is the clock for date checks (defaults to :func:`today_in_vietnam`).
    """
    context = {"today": today or today_in_vietnam()}
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from None
