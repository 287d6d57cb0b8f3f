"""Who asks: per-request MaDonVi, MaDVC and MaCanBo reach the sandbox, which checks them."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from adapters.errors import UpstreamFault
from adapters.population.config import RequestDefaults
from adapters.population.models import CitizenQuery

from .conftest import MakeClient, RunningSandbox
from .envelopes import IN_ORDER, lookup_envelope, post_envelope


async def _received(session: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[Any]:
    async with session.get(sandbox.base_url + "/_admin/stats") as resp:
        stats = await resp.json()
    return list(stats["received"])


async def test_per_request_values_are_sent_and_the_defaults_otherwise(
    sandbox: RunningSandbox, make_client: MakeClient, session: aiohttp.ClientSession
) -> None:
    """A query's agency, procedure and officer go out for that request only; the next
    request without them carries the configured defaults (the officer masked in stats)."""
    client = await make_client(sandbox.endpoint)
    asked = CitizenQuery(
        id_number="092090001234",
        request_id="req-who-1",
        agency_code="000.00.31.H29",
        service_code="1.001234",
        officer_id="001080000001",
    )
    assert await client.lookup(asked) is not None
    assert await client.lookup(CitizenQuery(id_number="092090001234", request_id="r2")) is not None
    defaults = RequestDefaults()
    assert await _received(session, sandbox) == [
        {
            "MaYeuCau": "req-who-1",
            "MaDVC": "1.001234",
            "MaDonVi": "000.00.31.H29",
            "MaCanBo": "001*******01",
        },
        {
            "MaYeuCau": "r2",
            "MaDVC": defaults.service_code,
            "MaDonVi": defaults.agency_code,
            "MaCanBo": defaults.officer_id[:3] + "*******" + defaults.officer_id[-2:],
        },
    ]


@pytest.mark.parametrize(
    ("override", "element"),
    [
        ({"agency_code": "Sở <Tư pháp>"}, "MaDonVi"),
        ({"agency_code": "-leading-dash"}, "MaDonVi"),
        ({"service_code": "x" * 65}, "MaDVC"),
        ({"officer_id": "001"}, "MaCanBo"),
    ],
)
async def test_the_sandbox_refuses_a_requester_value_of_the_wrong_shape(
    sandbox: RunningSandbox,
    make_client: MakeClient,
    session: aiohttp.ClientSession,
    override: dict[str, str],
    element: str,
) -> None:
    """A MaDonVi, MaDVC or MaCanBo of the wrong shape is a Client SOAP fault naming the
    element; the adapter raises UpstreamFault (client side), and the peer counts a refusal."""
    client = await make_client(sandbox.endpoint)
    with pytest.raises(UpstreamFault) as caught:
        await client.lookup(CitizenQuery(id_number="092090001234", **override))
    assert caught.value.code == "Client"
    assert not caught.value.retryable
    async with session.get(sandbox.base_url + "/_admin/stats") as resp:
        stats = await resp.json()
    assert stats["answers"] == {"refused": 1}
    assert stats["operations"] == {}


async def test_the_refusal_names_the_element(
    sandbox: RunningSandbox, session: aiohttp.ClientSession
) -> None:
    """The fault string says which element is wrong (read straight off the wire)."""
    children = [(n, "bad agency!" if n == "MaDonVi" else v) for n, v in IN_ORDER]
    status, reply = await post_envelope(session, sandbox.endpoint, lookup_envelope(children))
    assert status == 500
    assert "<faultcode>soap:Client</faultcode>" in reply
    assert "MaDonVi must be a code" in reply
