"""The verify body's validation and the verdicts a claim earns against the registry."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import pytest

from adapters.population.models import BirthDate, CitizenRecord
from gateway.citizens import (
    IdentityClaim,
    Verdict,
    compare_birth_dates,
    parse_claim,
    verify_claim,
)
from gateway.problems import ValidationFailed

TODAY = dt.date(2025, 6, 1)

AN = CitizenRecord(
    id_number="092090001234",
    family_name="Nguyễn",
    middle_name="Văn",
    given_name="An",
    gender="male",
    birth_date=BirthDate(1990, 5, 12),
)
THUY = CitizenRecord(
    id_number="092195004321",
    family_name="Trần",
    middle_name="Thị",
    given_name="Thủy",
    gender="female",
    birth_date=BirthDate(1995, 11, 2),
)
DUC_ANH = CitizenRecord(
    id_number="094203000777",
    family_name="Lê",
    middle_name="Đức",
    given_name="Anh",
    gender="male",
    birth_date=BirthDate(2003, 1, 30),
)
HOA = CitizenRecord(
    id_number="092301000555",
    family_name="Phạm",
    middle_name="Ngọc",
    given_name="Hoà",
    gender="female",
    birth_date=BirthDate(2001),
)
TUYET = CitizenRecord(
    id_number="093185000999",
    family_name="Huỳnh",
    middle_name="Thị Ánh",
    given_name="Tuyết",
    gender="female",
    birth_date=BirthDate(1985, 7, 15),
)


def claim(**fields: Any) -> IdentityClaim:
    return parse_claim(fields, today=TODAY)


def _errors(payload: dict[str, Any]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        parse_claim(payload, today=TODAY)
    return caught.value


VALID = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


def test_valid_body_parses_with_optional_fields() -> None:
    """A full body with gender, dossier code and purpose is accepted."""
    parsed = claim(**VALID, gender="male", dossier_code="000.00.12.H13-250601-0001", purpose="x")
    assert parsed.parsed_birth_date == BirthDate(1990, 5, 12)
    assert parsed.gender == "male"


def test_year_only_birth_date_parses() -> None:
    """ "YYYY" is a valid birth date (year only)."""
    assert claim(**{**VALID, "birth_date": "1990"}).parsed_birth_date == BirthDate(1990)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"birth_date": "1990-02-30"}, "birth_date"),
        ({"birth_date": "1990-5-12"}, "birth_date"),
        ({"birth_date": "12/05/1990"}, "birth_date"),
        ({"birth_date": "1899"}, "birth_date"),
        ({"birth_date": "2025-06-02"}, "birth_date"),
        ({"birth_date": "2026"}, "birth_date"),
        ({"full_name": "   \u00a0\t"}, "full_name"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "A" * 201}, "full_name"),
        ({"full_name": "Nguyễn\x00An"}, "full_name"),
        ({"full_name": "Nguyễn\u200bAn"}, "full_name"),
        ({"gender": "other"}, "gender"),
        ({"id_number": 92090001234}, "id_number"),
        ({"id_number": "123456789"}, "id_number"),
        ({"nickname": "An"}, "nickname"),
    ],
)
def test_invalid_bodies_name_the_field(override: dict[str, Any], field: str) -> None:
    """Each invalid value is a 422 naming its field."""
    problem = _errors({**VALID, **override})
    assert [e["field"] for e in problem.errors] == [field]
    assert problem.status == 422


def test_missing_fields_are_named() -> None:
    """A body missing required fields names each of them."""
    problem = _errors({"id_number": "092090001234"})
    assert {e["field"] for e in problem.errors} == {"full_name", "birth_date"}


def test_non_object_body_is_refused() -> None:
    """A JSON array is refused as a whole body."""
    problem = _errors([])  # type: ignore[arg-type]
    assert [e["field"] for e in problem.errors] == ["body"]


def test_birth_date_today_is_accepted() -> None:
    """A birth date equal to today (the injected clock) is not in the future."""
    assert claim(**{**VALID, "birth_date": TODAY.isoformat()}).birth_date == "2025-06-01"


def test_validation_errors_do_not_echo_personal_data() -> None:
    """Neither the id nor the name appear in the 422 body or the exception text."""
    problem = _errors({**VALID, "id_number": "09209000123Z", "full_name": "Nguyễn\x07An"})
    text = str(problem.to_dict("req-1")) + str(problem)
    assert "09209000123Z" not in text
    assert "Nguyễn" not in text
    assert problem.__cause__ is None


def test_claim_repr_hides_personal_data() -> None:
    """The claim's repr carries no id, name or birth date."""
    text = repr(claim(**VALID))
    assert "092090001234" not in text
    assert "Nguyễn" not in text
    assert "1990" not in text


def test_overall_match() -> None:
    """Every field equal gives match everywhere."""
    result = verify_claim(claim(**VALID, gender="male"), AN)
    assert result.verdict is Verdict.MATCH
    assert result.fields == {
        "id_number": Verdict.MATCH,
        "full_name": Verdict.MATCH,
        "birth_date": Verdict.MATCH,
        "gender": Verdict.MATCH,
    }


def test_overall_match_without_diacritics() -> None:
    """ "Le Duc Anh" against "Lê Đức Anh" is match_without_diacritics overall and for the name."""
    body = {"id_number": "094203000777", "full_name": "Le Duc Anh", "birth_date": "2003-01-30"}
    result = verify_claim(claim(**body), DUC_ANH)
    assert result.verdict is Verdict.MATCH_WITHOUT_DIACRITICS
    assert result.fields["full_name"] is Verdict.MATCH_WITHOUT_DIACRITICS
    assert result.fields["birth_date"] is Verdict.MATCH


def test_overall_mismatch_wins_over_diacritics() -> None:
    """One mismatching field makes the whole claim a mismatch."""
    body = {"id_number": "094203000777", "full_name": "Le Duc Anh", "birth_date": "2003-01-31"}
    result = verify_claim(claim(**body), DUC_ANH)
    assert result.verdict is Verdict.MISMATCH
    assert result.fields["birth_date"] is Verdict.MISMATCH


def test_gender_mismatch() -> None:
    """A wrong gender is a mismatch for gender and overall."""
    body = {"id_number": "092195004321", "full_name": "Trần Thị Thuỷ", "birth_date": "1995-11-02"}
    result = verify_claim(claim(**body, gender="male"), THUY)
    assert result.fields["full_name"] is Verdict.MATCH
    assert result.fields["gender"] is Verdict.MISMATCH
    assert result.verdict is Verdict.MISMATCH


def test_name_mismatch() -> None:
    """A different name is a mismatch."""
    result = verify_claim(claim(**{**VALID, "full_name": "Nguyễn Văn Anh"}), AN)
    assert result.fields["full_name"] is Verdict.MISMATCH
    assert result.verdict is Verdict.MISMATCH


def test_overall_not_found_without_record() -> None:
    """No citizen: every sent field and the whole claim are not_found."""
    result = verify_claim(claim(**VALID, gender="male", dossier_code="D1", purpose="p"), None)
    assert result.verdict is Verdict.NOT_FOUND
    assert result.fields == dict.fromkeys(
        ["id_number", "full_name", "birth_date", "gender"], Verdict.NOT_FOUND
    )


def test_not_found_lists_only_sent_fields() -> None:
    """Without a record and without gender, no gender verdict is invented."""
    result = verify_claim(claim(**VALID), None)
    assert list(result.fields) == ["id_number", "full_name", "birth_date"]


def test_whitespace_in_name_is_accepted() -> None:
    """Tabs and no-break spaces in a name are whitespace, not control characters."""
    assert verify_claim(claim(**{**VALID, "full_name": "Nguyễn\tVăn\u00a0An"}), AN).verdict is (
        Verdict.MATCH
    )


def test_only_sent_fields_get_verdicts() -> None:
    """Without gender there is no gender verdict; dossier code and purpose never get one."""
    result = verify_claim(claim(**VALID, dossier_code="D1", purpose="p"), AN)
    assert list(result.fields) == ["id_number", "full_name", "birth_date"]


def test_response_body_returns_nothing_from_the_registry() -> None:
    """The JSON answer holds verdicts and the request id only, no registered value."""
    body = verify_claim(claim(**VALID), AN).to_json("req-7")
    assert set(body) == {"verdict", "fields", "request_id"}
    assert body["request_id"] == "req-7"
    text = str(body)
    for value in ("092090001234", "Nguyễn", "1990", "male"):
        assert value not in text


def test_claimed_year_against_registered_full_date() -> None:
    """A year-only claim matches a full registered date of that year, mismatches another year."""
    assert verify_claim(claim(**{**VALID, "birth_date": "1990"}), AN).verdict is Verdict.MATCH
    assert verify_claim(claim(**{**VALID, "birth_date": "1991"}), AN).verdict is Verdict.MISMATCH


def test_claimed_year_against_registered_year() -> None:
    """A year-only claim matches a year-only registration; tone placement differs too."""
    body = {"id_number": "092301000555", "full_name": "Phạm Ngọc Hòa", "birth_date": "2001"}
    result = verify_claim(claim(**body, gender="female"), HOA)
    assert result.verdict is Verdict.MATCH


def test_claimed_full_date_against_registered_year() -> None:
    """A full date against a year-only registration is not_found (unchecked), not match."""
    body = {"id_number": "092301000555", "full_name": "Phạm Ngọc Hoà", "birth_date": "2001-03-04"}
    result = verify_claim(claim(**body), HOA)
    assert result.fields["birth_date"] is Verdict.NOT_FOUND
    assert result.fields["full_name"] is Verdict.MATCH
    assert result.verdict is Verdict.NOT_FOUND


def test_claimed_full_date_of_another_year_against_registered_year() -> None:
    """A full date whose year differs from a year-only registration is a mismatch."""
    assert compare_birth_dates(BirthDate(2002, 3, 4), BirthDate(2001)) is Verdict.MISMATCH
    assert compare_birth_dates(BirthDate(2001, 3, 4), None) is Verdict.NOT_FOUND


def test_nfd_name_against_sandbox_citizen() -> None:
    """An NFD-typed name matches the registered NFC name."""
    body = {
        "id_number": "093185000999",
        "full_name": unicodedata.normalize("NFD", "huỳnh  thị ánh tuyết"),
        "birth_date": "1985-07-15",
    }
    assert verify_claim(claim(**body), TUYET).verdict is Verdict.MATCH


def test_registered_without_gender_is_not_found_for_gender() -> None:
    """A registry without the gender cannot confirm it: gender and overall not_found."""
    record = CitizenRecord(
        id_number="092090001234",
        family_name="Nguyễn",
        middle_name="Văn",
        given_name="An",
        birth_date=BirthDate(1990, 5, 12),
    )
    result = verify_claim(claim(**VALID, gender="male"), record)
    assert result.fields["gender"] is Verdict.NOT_FOUND
    assert result.verdict is Verdict.NOT_FOUND


def test_other_id_number_in_record_is_mismatch() -> None:
    """A record carrying another id number is a mismatch for id_number."""
    result = verify_claim(claim(**{**VALID, "id_number": "092090001235"}), AN)
    assert result.fields["id_number"] is Verdict.MISMATCH
