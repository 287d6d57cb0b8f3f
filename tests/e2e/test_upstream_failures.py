"""Each way the population database can fail, seen from the gateway's caller.

Timeouts and policies are tight in these tests (tests/e2e/conftest.py), so
every failure is answered fast; the breaker opens after 4 calls at 50 %
failures and half-opens after 0.5 s.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.gateway import Gateway

CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


@pytest.mark.parametrize(
    ("misbehaviour", "status", "problem"),
    [
        ({"latency_ms": 2000}, 504, "upstream-timeout"),
        ({"error_rate": 1.0}, 502, "upstream-fault"),
        ({"fault": {"code": "Client", "string": "bad request"}}, 502, "upstream-fault"),
        ({"malformed_xml": True}, 502, "upstream-bad-reply"),
        ({"xml_bomb": True}, 502, "upstream-bad-reply"),
        ({"huge_response": 5 * 1024 * 1024}, 502, "upstream-bad-reply"),
        ({"drop_connection": True}, 502, "upstream-connection-error"),
    ],
)
async def test_misbehaviour_maps_to_a_precise_problem(
    gateway: Gateway, misbehaviour: dict, status: int, problem: str
) -> None:
    """Latency → 504, faults and garbage → 502 with a type per cause; never a hang or a 500."""
    await gateway.population.admin("misbehaviour", misbehaviour)
    got, body, _ = await asyncio.wait_for(
        gateway.call("POST", "/v1/citizens/verify", CLAIM), timeout=5
    )
    assert got == status
    assert body["type"].endswith("/" + problem)
    assert body["upstream"] == "population"
    assert "092090001234" not in str(body)


async def test_breaker_opens_answers_503_fast_then_closes(gateway: Gateway) -> None:
    """A failing upstream trips the breaker (503 + Retry-After, no call), then recovers."""
    await gateway.population.admin("misbehaviour", {"error_rate": 1.0})
    statuses = []
    for _ in range(4):
        statuses.append((await gateway.call("POST", "/v1/citizens/verify", CLAIM))[0])
        if statuses[-1] != 502:
            break
    # each call made two attempts (a look-up is retried), so it opens within 4 calls
    assert statuses[0] == 502
    assert set(statuses) <= {502, 503}
    before = (await gateway.population.admin("stats"))["soap_requests"]
    status, body, headers = await gateway.call("POST", "/v1/citizens/verify", CLAIM)
    after = (await gateway.population.admin("stats"))["soap_requests"]
    assert status == 503
    assert body["type"].endswith("/upstream-circuit-open")
    assert int(headers["Retry-After"]) >= 1
    assert after == before  # refused without calling out
    _, ready, _ = await gateway.call("GET", "/readyz", sign=False)
    assert ready["checks"]["population"]["breaker"]["state"] == "open"

    await gateway.population.admin("reset")
    await asyncio.sleep(0.6)  # open_seconds = 0.5 in the test policy
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", CLAIM)
    assert status == 200
    assert body["verdict"] == "match"
    _, ready, _ = await gateway.call("GET", "/readyz", sign=False)
    assert ready["checks"]["population"]["breaker"]["state"] == "closed"


async def test_retry_rides_over_a_single_dropped_connection(gateway: Gateway) -> None:
    """A look-up is safe to retry: one flaky answer out of two is absorbed."""
    await gateway.population.admin("misbehaviour", {"error_rate": 0.25, "seed": 3})
    results = [(await gateway.call("POST", "/v1/citizens/verify", CLAIM))[0] for _ in range(6)]
    stats = await gateway.population.admin("stats")
    assert results.count(200) >= 4
    assert stats["soap_requests"] > 6  # some calls took a second attempt
