"""CitizenService: the id is checked before the population database is asked."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from adapters.population.models import BirthDate, CitizenQuery, CitizenRecord
from gateway.citizens import (
    CitizenService,
    LookupRequest,
    Verdict,
    parse_claim,
)
from gateway.errors import InvalidRequest
from gateway.problems import problem_for

TODAY = dt.date(2025, 6, 1)

SANDBOX = {
    r.id_number: r
    for r in [
        CitizenRecord(
            id_number="092090001234",
            family_name="Nguyễn",
            middle_name="Văn",
            given_name="An",
            gender="male",
            birth_date=BirthDate(1990, 5, 12),
        ),
        CitizenRecord(
            id_number="092195004321",
            family_name="Trần",
            middle_name="Thị",
            given_name="Thủy",
            gender="female",
            birth_date=BirthDate(1995, 11, 2),
        ),
        CitizenRecord(
            id_number="094203000777",
            family_name="Lê",
            middle_name="Đức",
            given_name="Anh",
            gender="male",
            birth_date=BirthDate(2003, 1, 30),
        ),
        CitizenRecord(
            id_number="092301000555",
            family_name="Phạm",
            middle_name="Ngọc",
            given_name="Hoà",
            gender="female",
            birth_date=BirthDate(2001),
        ),
        CitizenRecord(
            id_number="093185000999",
            family_name="Huỳnh",
            middle_name="Thị Ánh",
            given_name="Tuyết",
            gender="female",
            birth_date=BirthDate(1985, 7, 15),
        ),
    ]
}


class CountingPopulation:
    """An in-test PopulationLookup over the five sandbox citizens that records each query."""

    def __init__(self) -> None:
        self.queries: list[CitizenQuery] = []

    async def lookup(self, query: CitizenQuery) -> CitizenRecord | None:
        self.queries.append(query)
        return SANDBOX.get(query.id_number)


def _verdict_count(verdict: str) -> float:
    value = REGISTRY.get_sample_value("lienthong_citizen_verdicts_total", {"verdict": verdict})
    return value or 0.0


async def test_verify_asks_population_and_counts_the_verdict() -> None:
    """A consistent claim is looked up once (with its context) and its verdict counted."""
    population = CountingPopulation()
    service = CitizenService(population)
    before = _verdict_count("match_without_diacritics")
    body = {"id_number": "094203000777", "full_name": "Le Duc Anh", "birth_date": "2003-01-30"}
    result = await service.verify(
        parse_claim({**body, "gender": "male"}, today=TODAY),
        request_id="req-1",
        service_code="1.000001",
        officer_id="001080000001",
    )
    assert result.verdict is Verdict.MATCH_WITHOUT_DIACRITICS
    assert _verdict_count("match_without_diacritics") == before + 1
    [query] = population.queries
    assert query.id_number == "094203000777"
    assert query.birth_date == BirthDate(2003, 1, 30)
    assert (query.request_id, query.service_code, query.officer_id) == (
        "req-1",
        "1.000001",
        "001080000001",
    )


async def test_verify_unknown_citizen_is_not_found() -> None:
    """A well-formed id the registry does not know gives not_found."""
    service = CitizenService(CountingPopulation())
    body = {"id_number": "001090000001", "full_name": "Nguyễn Văn An", "birth_date": "1990"}
    result = await service.verify(parse_claim(body, today=TODAY), request_id="req-2")
    assert result.verdict is Verdict.NOT_FOUND


@pytest.mark.parametrize(
    "body",
    [
        {"id_number": "097090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"},
        {"id_number": "094003000777", "full_name": "Lê Đức Anh", "birth_date": "2003-01-30"},
        {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1991-05-12"},
        {
            "id_number": "092195004321",
            "full_name": "Trần Thị Thủy",
            "birth_date": "1995",
            "gender": "male",
        },
    ],
)
async def test_verify_inconsistent_id_fails_before_any_lookup(body: dict[str, str]) -> None:
    """Unknown province, wrong century, year or gender: 422 on id_number, no population call."""
    population = CountingPopulation()
    service = CitizenService(population)
    claim = parse_claim(body, today=TODAY)
    with pytest.raises(InvalidRequest) as caught:
        await service.verify(claim, request_id="req-3")
    assert population.queries == []
    problem = problem_for(caught.value)
    assert problem.status == 422
    assert {e["field"] for e in problem.to_dict()["errors"]} == {"id_number"}
    assert body["id_number"] not in str(problem.to_dict("req-3"))


async def test_lookup_returns_registered_fields() -> None:
    """A known citizen's registered fields are returned."""
    service = CitizenService(CountingPopulation())
    body = await service.lookup(LookupRequest(id_number="092301000555"), request_id="req-4")
    assert body is not None
    assert body["full_name"] == "Phạm Ngọc Hoà"
    assert body["birth_date"] == "2001"


async def test_lookup_unknown_citizen_is_none() -> None:
    """An unknown citizen is None (the route answers 404) after exactly one call."""
    population = CountingPopulation()
    service = CitizenService(population)
    assert await service.lookup(LookupRequest(id_number="001090000001"), request_id="r") is None
    assert len(population.queries) == 1


async def test_lookup_unknown_province_fails_before_any_lookup() -> None:
    """A look-up with an unknown province code is a 422 and never reaches the population."""
    population = CountingPopulation()
    service = CitizenService(population)
    with pytest.raises(InvalidRequest):
        await service.lookup(LookupRequest(id_number="000090001234"), request_id="r")
    assert population.queries == []


async def test_logs_carry_no_id_or_name() -> None:
    """The service's log events hold the request id and verdicts, never ids or names."""
    service = CitizenService(CountingPopulation())
    body = {"id_number": "092195004321", "full_name": "Trần Thị Thuỷ", "birth_date": "1995-11-02"}
    bad = {**body, "id_number": "092295004321"}
    with capture_logs() as logs:
        await service.verify(parse_claim(body, today=TODAY), request_id="req-5")
        await service.lookup(LookupRequest(id_number="092195004321"), request_id="req-6")
        with pytest.raises(InvalidRequest):
            await service.verify(parse_claim(bad, today=TODAY), request_id="req-7")
    assert [e["event"] for e in logs] == [
        "citizen.verified",
        "citizen.looked_up",
        "citizen.verify.rejected",
    ]
    assert logs[0]["verdict"] == "match"
    text = str(logs)
    for secret in ("092195004321", "092295004321", "Trần", "Thuỷ", "Thủy", "1995"):
        assert secret not in text
