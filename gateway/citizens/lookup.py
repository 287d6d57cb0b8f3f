"""The look-up request and the registered identity and residence fields it returns.

Only clients granted ``citizens.lookup`` reach this; the answer uses English
keys and keeps the registry's values as they are (no normalisation).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from adapters.population.models import Address, CitizenRecord
from gateway.citizens._validation import parse_body
from gateway.citizens.cccd import IdNumberField
from gateway.citizens.context import ContextFields

__all__ = ["LookupRequest", "citizen_to_lookup_json", "parse_lookup_request"]


class LookupRequest(ContextFields):
    """The body of ``POST /v1/citizens/lookup``: the personal id, and the optional request
    context (:class:`~gateway.citizens.context.ContextFields`)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)

    id_number: IdNumberField


def parse_lookup_request(payload: object) -> LookupRequest:
    """Validate a decoded look-up body; raise ``ValidationFailed`` (422) naming each bad field."""
    return parse_body(LookupRequest, payload)


def _address_json(address: Address | None) -> dict[str, str | None] | None:
    if address is None:
        return None
    return {
        "province_code": address.province_code,
        "ward_code": address.ward_code,
        "detail": address.detail,
    }


def citizen_to_lookup_json(record: CitizenRecord) -> dict[str, Any]:
    """The registered citizen as the look-up response body (English keys)."""
    return {
        "id_number": record.id_number,
        "old_id_number": record.old_id_number,
        "full_name": record.full_name,
        "family_name": record.family_name,
        "middle_name": record.middle_name,
        "given_name": record.given_name,
        "gender": record.gender,
        "ethnicity": record.ethnicity,
        "birth_date": record.birth_date.iso() if record.birth_date else None,
        "permanent_address": _address_json(record.permanent_address),
        "current_address": _address_json(record.current_address),
        "hometown": _address_json(record.hometown),
    }
