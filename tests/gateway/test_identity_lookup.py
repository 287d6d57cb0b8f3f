"""The look-up body and the registered fields it answers with."""

from __future__ import annotations

import pytest

from adapters.population.models import Address, BirthDate, CitizenRecord
from gateway.citizens import LookupRequest, citizen_to_lookup_json, parse_lookup_request
from gateway.problems import ValidationFailed

HOA = CitizenRecord(
    id_number="092301000555",
    old_id_number="361234567",
    family_name="Phạm",
    middle_name="Ngọc",
    given_name="Hoà",
    gender="female",
    ethnicity="Kinh",
    birth_date=BirthDate(2001),
    permanent_address=Address("92", "31117", "12 Đường 3/2, Xuân Khánh"),
    current_address=Address("92", "31120", "5 Trần Văn Hoài"),
    hometown=None,
)


def test_lookup_json_has_identity_and_residence_in_english_keys() -> None:
    """Every registered field is returned under its English key; year-only dates stay YYYY."""
    body = citizen_to_lookup_json(HOA)
    assert body == {
        "id_number": "092301000555",
        "old_id_number": "361234567",
        "full_name": "Phạm Ngọc Hoà",
        "family_name": "Phạm",
        "middle_name": "Ngọc",
        "given_name": "Hoà",
        "gender": "female",
        "ethnicity": "Kinh",
        "birth_date": "2001",
        "permanent_address": {
            "province_code": "92",
            "ward_code": "31117",
            "detail": "12 Đường 3/2, Xuân Khánh",
        },
        "current_address": {
            "province_code": "92",
            "ward_code": "31120",
            "detail": "5 Trần Văn Hoài",
        },
        "hometown": None,
    }


def test_lookup_json_full_birth_date_is_iso() -> None:
    """A full registered birth date is returned as YYYY-MM-DD."""
    record = CitizenRecord(id_number="092090001234", birth_date=BirthDate(1990, 5, 12))
    assert citizen_to_lookup_json(record)["birth_date"] == "1990-05-12"


def test_lookup_request_takes_the_id_only() -> None:
    """The body is {"id_number"}; anything else is refused."""
    assert parse_lookup_request({"id_number": "092301000555"}) == LookupRequest(
        id_number="092301000555"
    )
    with pytest.raises(ValidationFailed) as caught:
        parse_lookup_request({"id_number": "092301000555", "full_name": "Phạm Ngọc Hoà"})
    assert [e["field"] for e in caught.value.errors] == ["full_name"]


def test_lookup_request_refuses_old_card_number_without_echo() -> None:
    """A 9-digit CMND is a 422 on id_number that does not repeat the number."""
    with pytest.raises(ValidationFailed) as caught:
        parse_lookup_request({"id_number": "361234567"})
    assert [e["field"] for e in caught.value.errors] == ["id_number"]
    assert "CMND" in caught.value.errors[0]["message"]
    assert "361234567" not in str(caught.value.to_dict())
