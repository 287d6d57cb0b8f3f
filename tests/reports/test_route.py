"""``GET /v1/reports/{period}`` through the whole gateway and the real population sandbox:
the right ``reports.read`` (granted by name only), bad periods, HTML and XLSX, and a
circuit-breaker opening recorded as ``circuit_open`` and counted in the report."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from gateway.auth.config import ClientConfig
from gateway.auth.signatures import sign_request
from gateway.reports.command import XLSX_TYPE
from tests.reports.test_figures import _Tables
from tests.support.gateway import SECRETS, Gateway, e2e_gateway

OFFICE, OFFICE_SECRET = "city-office", "city-office-secret"
AGENCY, PROCEDURE = "H29.UBND", "1.004227"
CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """The e2e gateway plus a client granted ``reports.read`` and one granted ``"*"``."""
    office = ClientConfig(id=OFFICE, secrets=[OFFICE_SECRET], operations=["reports.read"])
    everything = ClientConfig(id="all-ops", secrets=["all-ops-secret"], operations=["*"])
    async with e2e_gateway(tmp_path, clients=[office, everything]) as gateway:
        yield gateway


def _this_quarter() -> str:
    """The quarter the records written now fall in (Vietnam time), so the test never ages."""
    now = datetime.now(timezone(timedelta(hours=7)))
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


async def _get(
    gw: Gateway, path: str, client: str, secret: str, accept: str = "text/html"
) -> tuple[int, str, bytes]:
    url = gw.url + path
    headers = sign_request("GET", url, {"Accept": accept}, b"", client, secret)
    async with gw.session.get(url, headers=headers) as r:
        return r.status, r.content_type, await r.read()


def test_a_wildcard_client_is_not_granted_reports() -> None:
    """``"*"`` covers every operation but ``reports.read``, which is granted by name only."""
    assert not ClientConfig(id="all-ops", operations=["*"]).may("reports.read")
    assert ClientConfig(id="all-ops", operations=["*"]).may("citizens.verify")
    assert ClientConfig(id="office", operations=["reports.read"]).may("reports.read")


@pytest.mark.slow
async def test_report_route_serves_html_and_xlsx_to_the_office_only(gateway: Gateway) -> None:
    """403 for the one-stop system and a "*" client, 422/404 for bad periods, then the page
    (verifications and the breaker's minutes counted) and the workbook."""
    # One verification on an agency's behalf: its row must show its verdict (the request
    # context and the verdict travel through the audit record into the report).
    on_behalf = {**CLAIM, "agency_code": AGENCY, "procedure_code": PROCEDURE}
    status, answer, _ = await gateway.call("POST", "/v1/citizens/verify", on_behalf)
    assert status == 200
    assert answer["verdict"] == "match", answer
    await gateway.population.admin("misbehaviour", {"error_rate": 1.0})
    statuses = []
    for _ in range(8):
        statuses.append((await gateway.call("POST", "/v1/citizens/verify", CLAIM))[0])
        if statuses[-1] == 503:
            break
    assert statuses[-1] == 503  # refused by the open breaker, never sent

    quarter = f"/v1/reports/{_this_quarter()}"
    for client, secret in (("motcua-demo", SECRETS["motcua-demo"]), ("all-ops", "all-ops-secret")):
        status, ctype, body = await _get(gateway, quarter, client, secret)
        assert status == 403, body
        assert ctype == "application/problem+json"
    status, ctype, body = await _get(gateway, "/v1/reports/2026-Q5", OFFICE, OFFICE_SECRET)
    assert (status, ctype) == (422, "application/problem+json")
    assert b'"period"' in body
    status, ctype, body = await _get(gateway, "/v1/reports/2099-Q1", OFFICE, OFFICE_SECRET)
    assert (status, ctype) == (404, "application/problem+json")
    assert b"report-not-found" in body
    status, _, _ = await _get(gateway, quarter + "?format=pdf", OFFICE, OFFICE_SECRET)
    assert status == 422

    tables: dict[str, list[list[str]]] = {}
    for _ in range(50):  # the audit writer commits within milliseconds (buffered)
        status, ctype, body = await _get(gateway, quarter, OFFICE, OFFICE_SECRET)
        assert (status, ctype) == (200, "text/html"), body[:300]
        parsed = _Tables()
        parsed.feed(body.decode("utf-8"))
        tables = {k: [r for r in v if r] for k, v in parsed.tables.items()}
        population = [r for r in tables["table-availability"] if r[1] == "Tổng cộng"]
        verified = tables.get("table-verifications") or [["", "", "0"]]
        # Wait for every request's record, not only for the first one that shows a failure:
        # the buffered writer may commit the last request's record a batch later.
        if (
            population
            and population[0][5] != "0"
            and int(verified[-1][2].replace(".", "")) == len(statuses) + 1
        ):
            break
        await asyncio.sleep(0.05)
    [agency_row] = [r for r in tables["table-verifications"] if r[:2] == [AGENCY, PROCEDURE]]
    assert (agency_row[2], agency_row[3]) == ("1", "1")  # one verification, one match
    total = tables["table-verifications"][-1]
    assert int(total[2].replace(".", "")) == len(statuses) + 1
    assert int(total[-2]) >= len(statuses)  # the failed ones: 502 upstream errors, 503 refusals
    population_total = next(
        r
        for r in tables["table-availability"]
        if r[0] == "CSDL quốc gia về dân cư" and r[1] == "Tổng cộng"
    )
    assert int(population_total[5]) >= 1  # minutes with the breaker open

    for path, accept in ((quarter + "?format=xlsx", "*/*"), (quarter, XLSX_TYPE)):
        status, ctype, body = await _get(gateway, path, OFFICE, OFFICE_SECRET, accept)
        assert (status, ctype) == (200, XLSX_TYPE)
        book = openpyxl.load_workbook(io.BytesIO(body))
        assert book.sheetnames[0] == "Xác thực"
