"""Look-ups against the sandbox over loopback: fixture citizens, not found, request id, records."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.guard import Unguarded
from adapters.http import REQUEST_ID
from adapters.observability import collect_exchanges
from adapters.population.client import PopulationClient
from adapters.population.codec import load_wire
from adapters.population.config import SHIPPED_WSDL, PopulationConfig
from adapters.population.models import Address, BirthDate, CitizenQuery
from gateway.citizens import fold_for_request

from .conftest import MakeClient, RunningSandbox

FIXTURES = [
    ("092090001234", ("Nguyễn", "Văn", "An"), "male", BirthDate(1990, 5, 12)),
    ("092195004321", ("Trần", "Thị", "Thủy"), "female", BirthDate(1995, 11, 2)),
    ("094203000777", ("Lê", "Đức", "Anh"), "male", BirthDate(2003, 1, 30)),
    ("092301000555", ("Phạm", "Ngọc", "Hoà"), "female", BirthDate(2001)),
    ("093185000999", ("Huỳnh", "Thị Ánh", "Tuyết"), "female", BirthDate(1985, 7, 15)),
]


@pytest.mark.parametrize(("id_number", "parts", "gender", "born"), FIXTURES)
async def test_fixture_citizen_round_trips(
    sandbox: RunningSandbox,
    make_client: MakeClient,
    id_number: str,
    parts: tuple[str, str, str],
    gender: str,
    born: BirthDate,
) -> None:
    """Each fixture citizen comes back with its name parts, gender and (full or year-only) birth."""
    client = await make_client(sandbox.endpoint)
    record = await client.lookup(CitizenQuery(id_number=id_number))
    assert record is not None
    assert record.id_number == id_number
    assert (record.family_name, record.middle_name, record.given_name) == parts
    assert record.gender == gender
    assert record.birth_date == born
    assert record.birth_date.is_full == born.is_full
    assert isinstance(record.permanent_address, Address)
    assert record.permanent_address.province_code == id_number[1:3]


async def test_year_only_name_keeps_its_tone_placement(
    sandbox: RunningSandbox, make_client: MakeClient
) -> None:
    """Phạm Ngọc Hoà is stored and returned with "Hoà" (mark on a), NFC."""
    client = await make_client(sandbox.endpoint)
    record = await client.lookup(CitizenQuery(id_number="092301000555"))
    assert record is not None
    assert record.full_name == "Phạm Ngọc Ho\u00e0"
    assert record.birth_date == BirthDate(2001)


async def test_unknown_id_is_not_found(sandbox: RunningSandbox, make_client: MakeClient) -> None:
    """An id the database does not hold (empty CongDan) is None, recorded as not_found."""
    client = await make_client(sandbox.endpoint)
    exchanges = collect_exchanges()
    record = await client.lookup(CitizenQuery(id_number="001099999999"))
    assert record is None
    assert [e.outcome for e in exchanges] == ["not_found"]


async def test_found_lookup_is_recorded_once(
    sandbox: RunningSandbox, make_client: MakeClient
) -> None:
    """A successful call records exactly one exchange with outcome ok and both sizes."""
    client = await make_client(sandbox.endpoint)
    exchanges = collect_exchanges()
    await client.lookup(CitizenQuery(id_number="092090001234"))
    assert len(exchanges) == 1
    exchange = exchanges[0]
    assert (exchange.upstream, exchange.operation, exchange.outcome) == (
        "population",
        "TraCuuThongTinCongDan",
        "ok",
    )
    assert exchange.bytes_out > 0
    assert exchange.bytes_in > 0
    assert exchange.attempts == 1


async def test_request_id_reaches_the_sandbox(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """The inbound X-Request-ID travels with the SOAP call to the peer."""
    client = await make_client(sandbox.endpoint)
    token = REQUEST_ID.set("req-7f3a")
    try:
        await client.lookup(CitizenQuery(id_number="092090001234"))
    finally:
        REQUEST_ID.reset(token)
    async with session.get(sandbox.base_url + "/_admin/stats") as resp:
        stats = await resp.json()
    assert stats["request_ids"] == ["req-7f3a"]
    assert stats["operations"] == {"TraCuuThongTinCongDan": 1}


async def test_query_with_name_and_year_is_accepted(
    sandbox: RunningSandbox, make_client: MakeClient
) -> None:
    """HoVaTen and a year-only NgayThangNamSinh go out in the order the peer demands."""
    client = await make_client(sandbox.endpoint, fold_name_in_request=True)
    query = CitizenQuery(
        id_number="092301000555", full_name="Phạm Ngọc Hòa", birth_date=BirthDate(2001)
    )
    record = await client.lookup(query)
    assert record is not None


def test_folded_name_goes_out_as_one_upper_case_word(codec: str) -> None:
    """A folded HoVaTen has no accents, Đ as D, no spaces or punctuation, upper case."""
    wire = load_wire(codec, SHIPPED_WSDL, None)
    fields = {
        "MaYeuCau": "r",
        "MaDVC": "d",
        "MaTichHop": "t",
        "MaCanBo": "c",
        "MaDonVi": "u",
        "TaiKhoan": "a",
        "SoDienThoai": "p",
        "SoDinhDanh": "092090001234",
    }
    folded = wire.build_request({**fields, "HoVaTen": fold_for_request("Nguyễn Văn  Ân-Đức")})
    assert b"<ns0:HoVaTen>NGUYENVANANDUC</ns0:HoVaTen>" in folded


@pytest.mark.parametrize("name", ["Ðặng Văn Ðức", "ðặng văn ðức", "ƉẶNG VĂN ƉỨC", "Đặng Văn Đức"])
async def test_folded_name_is_sent_as_the_gateways_normaliser_folds_it(
    sandbox: RunningSandbox, make_client: MakeClient, name: str
) -> None:
    """HoVaTen folded with the gateway's one normaliser: Đ look-alikes go out as D too."""
    client = await make_client(sandbox.endpoint, fold_name_in_request=True)
    fields = client._lookup_fields(CitizenQuery(id_number="092090001234", full_name=name))
    assert fields["HoVaTen"] == "DANGVANDUC"


async def test_folding_without_a_folder_is_refused_at_construction(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """fold_name_in_request without the gateway's folding is a wiring bug, caught at start-up."""
    config = PopulationConfig(endpoint=sandbox.endpoint, fold_name_in_request=True)
    with pytest.raises(ValueError, match="fold_name"):
        await PopulationClient.load(config, session, Unguarded())


async def test_wsdl_is_served_with_its_address(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """GET ?wsdl answers the shipped WSDL with soap:address pointing at the sandbox."""
    async with session.get(sandbox.endpoint + "?wsdl") as resp:
        body = await resp.read()
    assert resp.status == 200
    assert f'location="{sandbox.endpoint}"'.encode() in body
    assert b"TraCuuThongTinCongDan" in body
