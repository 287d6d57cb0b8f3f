"""Citizen verification and lookup through the gateway and the population sandbox over SOAP."""

from __future__ import annotations

import unicodedata

import pytest

from tests.support.gateway import Gateway

AN = {
    "id_number": "092090001234",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-05-12",
    "gender": "male",
}


async def test_exact_claim_is_a_match(gateway: Gateway) -> None:
    """Every field of a correct claim matches, and the overall verdict is match."""
    status, body, headers = await gateway.call("POST", "/v1/citizens/verify", AN)
    assert status == 200
    assert body["verdict"] == "match"
    assert body["fields"] == {
        "id_number": "match",
        "full_name": "match",
        "birth_date": "match",
        "gender": "match",
    }
    assert body["request_id"] == headers["X-Request-ID"]


async def test_answer_contains_only_what_was_sent(gateway: Gateway) -> None:
    """Data minimisation: no registered data comes back, only verdicts for the fields sent."""
    claim = {k: AN[k] for k in ("id_number", "full_name", "birth_date")}
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert set(body) == {"verdict", "fields", "request_id"}
    assert set(body["fields"]) == {"id_number", "full_name", "birth_date"}
    assert "Nguyễn" not in str(body)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), "match"),
        ("  nguyễn   VĂN  an ", "match"),
        ("Nguyen Van An", "match_without_diacritics"),
        ("NGUYEN VAN AN", "match_without_diacritics"),
        ("Nguyễn Văn Anh", "mismatch"),
    ],
)
async def test_name_normalisation_verdicts(gateway: Gateway, name: str, expected: str) -> None:
    """NFD, case and spacing are normalised; accents only folded give the weaker verdict."""
    claim = {**AN, "full_name": name}
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert body["fields"]["full_name"] == expected
    assert body["verdict"] == expected


@pytest.mark.parametrize("name", ["Phạm Ngọc Hòa", "Phạm Ngọc Hoà", "PHẠM NGỌC HOÀ"])
async def test_tone_mark_placement_variants_match(gateway: Gateway, name: str) -> None:
    """Hòa and Hoà are one name: the registered "Hoà" matches either placement."""
    claim = {
        "id_number": "092301000555",
        "full_name": name,
        "birth_date": "2001",
        "gender": "female",
    }
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert body["verdict"] == "match"


async def test_thuy_variants_and_d_stroke_folding(gateway: Gateway) -> None:
    """Thủy/Thuỷ compare equal; Đ folds to D only for the weaker verdict."""
    _, thuy, _ = await gateway.call(
        "POST",
        "/v1/citizens/verify",
        {"id_number": "092195004321", "full_name": "Trần Thị Thuỷ", "birth_date": "1995-11-02"},
    )
    _, duc, _ = await gateway.call(
        "POST",
        "/v1/citizens/verify",
        {"id_number": "094203000777", "full_name": "Le Duc Anh", "birth_date": "2003-01-30"},
    )
    assert thuy["verdict"] == "match"
    assert duc["verdict"] == "match_without_diacritics"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Lê Ðức Anh", "match"),  # U+00D0: Latin-1 keyboards, Windows-1258 0xD0 read as Latin-1
        ("lê ðức anh", "match"),  # U+00F0
        ("LÊ ƉỨC ANH", "match"),  # U+0189 African D
        ("Le Ðuc Anh", "match_without_diacritics"),
        ("Lê Dức Anh", "match_without_diacritics"),  # a plain D is still only the weaker verdict
    ],
)
async def test_letters_that_look_like_d_stroke_are_d_stroke(
    gateway: Gateway, name: str, expected: str
) -> None:
    """Ð, ð and Ɖ are read as Đ/đ: the registered "Lê Đức Anh" matches exactly."""
    claim = {"id_number": "094203000777", "full_name": name, "birth_date": "2003-01-30"}
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert body["fields"]["full_name"] == expected


async def test_wrong_birth_date_and_gender_are_mismatches(gateway: Gateway) -> None:
    """A wrong day of birth is a mismatch of that field and of the whole claim."""
    claim = {**AN, "birth_date": "1990-05-13"}
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert body["fields"]["birth_date"] == "mismatch"
    assert body["fields"]["full_name"] == "match"
    assert body["verdict"] == "mismatch"


async def test_unknown_person_is_not_found(gateway: Gateway) -> None:
    """A well-formed id the database does not know gives not_found for every field."""
    claim = {
        "id_number": "092090999999",
        "full_name": "Nguyễn Văn Bình",
        "birth_date": "1990-01-01",
        "gender": "male",
    }
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    assert status == 200
    assert body["verdict"] == "not_found"
    assert set(body["fields"].values()) == {"not_found"}


@pytest.mark.parametrize(
    "claim",
    [
        {**AN, "birth_date": "2003-05-12"},  # century digit 0 says 1900s
        {**AN, "gender": "female"},  # digit 0 says male
        {**AN, "birth_date": "1991-05-12"},  # year digits say 90
        {**AN, "id_number": "000090001234"},  # no such province
        {**AN, "id_number": "09209000123"},  # 11 digits
    ],
)
async def test_inconsistent_id_is_422_before_any_upstream_call(
    gateway: Gateway, claim: dict[str, str]
) -> None:
    """The id's digits are checked against the claim first; the national database is not asked."""
    await gateway.population.admin("reset")
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", claim)
    stats = await gateway.population.admin("stats")
    assert status == 422
    assert body["type"].endswith("/validation-failed")
    assert {e["field"] for e in body["errors"]} == {"id_number"}
    assert claim["id_number"] not in str(body)
    assert stats["soap_requests"] == 0


async def test_lookup_returns_registered_residence(gateway: Gateway) -> None:
    """The one-stop system may look up a citizen's registered identity and residence."""
    status, body, _ = await gateway.call(
        "POST", "/v1/citizens/lookup", {"id_number": "093185000999"}
    )
    assert status == 200
    citizen = body["citizen"]
    assert citizen["full_name"] == "Huỳnh Thị Ánh Tuyết"
    assert citizen["birth_date"] == "1985-07-15"
    assert citizen["permanent_address"]["province_code"]


async def test_lookup_forbidden_for_the_portal(gateway: Gateway) -> None:
    """The portal may verify but not look up: 403 problem+json."""
    status, body, _ = await gateway.call(
        "POST", "/v1/citizens/lookup", {"id_number": "093185000999"}, client="portal-demo"
    )
    assert status == 403
    assert body["type"].endswith("/forbidden")


async def test_lookup_of_unknown_citizen_is_404(gateway: Gateway) -> None:
    """An unknown id is a 404 problem, not an empty record."""
    status, body, _ = await gateway.call(
        "POST", "/v1/citizens/lookup", {"id_number": "092090999999"}
    )
    assert status == 404
    assert body["type"].endswith("/citizen-not-found")


async def test_request_id_travels_to_the_national_system(gateway: Gateway) -> None:
    """The caller's X-Request-ID is returned, and reaches the population database."""
    await gateway.population.admin("reset")
    status, _, headers = await gateway.call(
        "POST", "/v1/citizens/verify", AN, headers={"X-Request-ID": "motcua-req-42"}
    )
    stats = await gateway.population.admin("stats")
    assert status == 200
    assert headers["X-Request-ID"] == "motcua-req-42"
    assert "motcua-req-42" in stats["request_ids"]
