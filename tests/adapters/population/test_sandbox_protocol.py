"""The sandbox as a strict peer: envelope, SOAPAction, child order, values; its citizens."""

from __future__ import annotations

import aiohttp

from adapters.population.citizens import century_gender_digit, citizen_registry
from adapters.population.config import SHIPPED_WSDL
from adapters.population.sandbox import OPERATIONS

from .conftest import RunningSandbox
from .envelopes import IN_ORDER, lookup_envelope, post_envelope


async def test_hand_built_envelope_in_order_is_answered(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """A correctly ordered request gets the citizen's CongDan."""
    status, reply = await post_envelope(session, sandbox.endpoint, lookup_envelope())
    assert status == 200
    assert "<dc:Ten>An</dc:Ten>" in reply


async def test_swapped_children_are_refused_with_a_client_fault(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """MaTichHop before MaDVC: SOAP Client fault that names the misplaced element."""
    swapped = [IN_ORDER[0], IN_ORDER[2], IN_ORDER[1], *IN_ORDER[3:]]
    status, reply = await post_envelope(session, sandbox.endpoint, lookup_envelope(swapped))
    assert status == 500
    assert "<faultcode>soap:Client</faultcode>" in reply
    assert "MaDVC is missing before MaTichHop" in reply


async def test_missing_required_child_is_refused(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """A request without SoDinhDanh is a Client fault naming it."""
    status, reply = await post_envelope(session, sandbox.endpoint, lookup_envelope(IN_ORDER[:-1]))
    assert status == 500
    assert "SoDinhDanh is missing" in reply


async def test_birth_date_after_name_only(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """NgayThangNamSinh before HoVaTen is out of order."""
    extra = "<d:NgayThangNamSinh><d:Nam>1990</d:Nam></d:NgayThangNamSinh><d:HoVaTen>X</d:HoVaTen>"
    status, reply = await post_envelope(session, sandbox.endpoint, lookup_envelope(extra=extra))
    assert status == 500
    assert "HoVaTen is out of order" in reply


async def test_wrong_soap_action_is_refused(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """A SOAPAction that does not name the body's operation is a Client fault."""
    status, reply = await post_envelope(
        session, sandbox.endpoint, lookup_envelope(), soap_action='"urn:other"'
    )
    assert status == 500
    assert "SOAPAction" in reply


async def test_request_with_a_doctype_is_refused(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """The sandbox never parses a DTD a caller sends."""
    body = b'<!DOCTYPE x [<!ENTITY e "e">]>' + lookup_envelope().split(b"?>", 1)[1]
    status, reply = await post_envelope(session, sandbox.endpoint, body)
    assert status == 500
    assert "DTD" in reply


async def test_stats_count_calls(sandbox: RunningSandbox, session: aiohttp.ClientSession) -> None:
    """/_admin/stats counts SOAP requests and answers; reset zeroes them."""
    await post_envelope(session, sandbox.endpoint, lookup_envelope())
    async with session.get(sandbox.base_url + "/_admin/stats") as resp:
        stats = await resp.json()
    assert stats["soap_requests"] == 1
    assert stats["answers"] == {"ok": 1}
    async with session.post(sandbox.base_url + "/_admin/reset") as resp:
        assert resp.status == 200
    async with session.get(sandbox.base_url + "/_admin/stats") as resp:
        stats = await resp.json()
    assert stats["soap_requests"] == 0


def test_generated_ids_agree_with_their_holders() -> None:
    """Every citizen's id carries its birth century, gender and year digits."""
    registry = citizen_registry(200, seed=2018)
    assert len(registry) == 205
    for id_number, person in registry.items():
        assert person.birth_date is not None
        assert person.gender is not None
        assert len(id_number) == 12
        assert id_number.isdigit()
        year = person.birth_date.year
        assert int(id_number[3]) == century_gender_digit(year, person.gender)
        assert id_number[4:6] == f"{year % 100:02d}"
        assert person.family_name
        assert person.given_name


def test_generated_citizens_are_reproducible() -> None:
    """The same seed gives the same citizens; another seed, others."""
    assert citizen_registry(50, seed=1) == citizen_registry(50, seed=1)
    assert citizen_registry(50, seed=1).keys() != citizen_registry(50, seed=2).keys()


def test_the_wsdl_lists_every_operation() -> None:
    """The shipped WSDL's portType has all seven operations of the service."""
    text = SHIPPED_WSDL.read_text(encoding="utf-8")
    for operation in OPERATIONS:
        assert f'<wsdl:operation name="{operation}">' in text
