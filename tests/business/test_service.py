"""BusinessService: tax code validation, TTL cache, request coalescing, metrics."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client import REGISTRY

from adapters.errors import UpstreamFault
from gateway.businesses.service import BusinessService, business_to_json, normalize_tax_code
from gateway.errors import InvalidRequest
from gateway.problems import problem_for
from tests.business.conftest import Sandbox, make_client

CODE = "1801234562"


def cache_count(result: str) -> float:
    value = REGISTRY.get_sample_value("lienthong_business_cache_total", {"result": result})
    return value or 0.0


def service_for(
    sandbox: Sandbox,
    session: aiohttp.ClientSession,
    *,
    ttl_seconds: float = 600,
    max_entries: int = 10_000,
) -> BusinessService:
    client, _ = make_client(sandbox, session)
    return BusinessService(
        client, ttl_seconds=ttl_seconds, max_entries=max_entries, clock=sandbox.clock.monotonic
    )


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("0100233488", "0100233488"),
        (" 0100 233 488 ", "0100233488"),
        ("0100233488001", "0100233488-001"),
        ("0100233488-001", "0100233488-001"),
        ("0100 233 488 - 001", "0100233488-001"),
        ("1800000113-001", "1800000113-001"),
        # every separator python-stdnum's mst.compact drops, wherever it stands
        ("18.00.000.113", "1800000113"),
        ("1800.000.113", "1800000113"),
        ("18-00-000-113", "1800000113"),
        ("0100.233.488.001", "0100233488-001"),
        ("0100233488--001", "0100233488-001"),
        ("0100233488 . 001", "0100233488-001"),
        ("\t0100233488\n", "0100233488"),
        # and the Unicode look-alikes it maps to them: no-break space, en dash, middle dot
        ("0100\u00a0233\u00a0488", "0100233488"),
        ("0100233488\u2013001", "0100233488-001"),
        ("18\u00b700\u00b7000\u00b7113", "1800000113"),
        # compact maps full-width digits (East Asian input methods) to ASCII ones too
        ("\uff10\uff11\uff10\uff10\uff12\uff13\uff13\uff14\uff18\uff18", "0100233488"),
    ],
)
def test_tax_code_normalised(raw: str, normalised: str) -> None:
    """Spaces, dashes and dots are dropped and a branch suffix is written -NNN."""
    assert normalize_tax_code(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "0100233489",
        "1801234563",
        "0100233488-000",
        "010023348",
        "01002334880",
        "01002334ab",
        "",
        "0100233488-01",
        "18,00,000,113",
        "1800000113_001",
        "1800000113/001",
        "0100\t233488",
        "0100000000",  # seven zeros after the province code: never issued
    ],
)
def test_invalid_tax_codes_name_the_field(raw: str) -> None:
    """Wrong check digit, length, characters or a 000 suffix → 422 naming tax_code."""
    with pytest.raises(InvalidRequest) as caught:
        normalize_tax_code(raw)
    problem = problem_for(caught.value)
    assert problem.status == 422
    assert [e["field"] for e in problem.to_dict()["errors"]] == ["tax_code"]


async def test_cache_serves_within_ttl_and_refetches_after(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """Within the TTL a lookup is a hit with its age; after it, one new upstream call."""
    service = service_for(ngsp, session, ttl_seconds=600)
    hits, misses = cache_count("hit"), cache_count("miss")
    first = await service.get(CODE)
    ngsp.clock.advance(599)
    second = await service.get(CODE)
    assert first is not None
    assert second is not None
    assert (first.age, first.max_age) == (0, 600)
    assert (second.age, second.max_age) == (599, 1)
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 1
    ngsp.clock.advance(2)
    third = await service.get(CODE)
    assert third is not None
    assert third.age == 0
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 2
    assert (cache_count("hit") - hits, cache_count("miss") - misses) == (1, 2)


async def test_ttl_zero_disables_the_cache(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """With ttl_seconds=0 every sequential lookup goes upstream."""
    service = service_for(ngsp, session, ttl_seconds=0)
    for _ in range(3):
        found = await service.get(CODE)
        assert found is not None
        assert found.max_age == 0
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 3


async def test_concurrent_lookups_of_one_code_make_one_upstream_call(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """Fifty concurrent lookups of one tax code share one upstream call (even with TTL 0)."""
    await ngsp.misbehave(session, latency_seconds=0.2)
    service = service_for(ngsp, session, ttl_seconds=0)
    coalesced = cache_count("coalesced")
    results = await asyncio.gather(*(service.get(CODE) for _ in range(50)))
    assert all(r is not None and r.record.tax_code == CODE for r in results)
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 1
    assert cache_count("coalesced") - coalesced == 49


async def test_a_failure_is_shared_by_waiters_but_not_cached(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """Concurrent callers all get the one failure; the next lookup calls upstream again."""
    await ngsp.misbehave(session, latency_seconds=0.2, error_rate=1.0)
    service = service_for(ngsp, session, ttl_seconds=600)
    outcomes = await asyncio.gather(*(service.get(CODE) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(o, UpstreamFault) for o in outcomes)
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 1
    await ngsp.misbehave(session)
    assert await service.get(CODE) is not None
    assert ngsp.state.stats.lookups_by_msdn[CODE] == 2


async def test_unknown_is_not_cached(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """An unknown tax code is asked again next time (it may be registered meanwhile)."""
    service = service_for(ngsp, session, ttl_seconds=600)
    assert await service.get("0100233488") is None
    assert await service.get("0100233488") is None
    assert ngsp.state.stats.lookups_by_msdn["0100233488"] == 2


async def test_cache_is_bounded(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """Beyond max_entries the least recently used record is dropped."""
    service = service_for(ngsp, session, ttl_seconds=600, max_entries=2)
    for code in ("1801234562", "1800998879", "1800000113", "1801234562"):
        await service.get(code)
    assert ngsp.state.stats.lookups_by_msdn["1801234562"] == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """One caller giving up leaves the coalesced call running for the others."""
    await ngsp.misbehave(session, latency_seconds=0.2)
    service = service_for(ngsp, session, ttl_seconds=600)
    quitter = asyncio.ensure_future(service.get(CODE))
    stayer = asyncio.ensure_future(service.get(CODE))
    await asyncio.sleep(0.05)
    quitter.cancel()
    found = await stayer
    assert found is not None
    assert quitter.cancelled()


async def test_json_has_stable_keys(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """business_to_json: English keys, status {code, text}, ISO date, representatives a list."""
    service = service_for(ngsp, session)
    found = await service.get("1800998879")
    assert found is not None
    body = business_to_json(found.record)
    assert body == {
        "tax_code": "1800998879",
        "is_branch": False,
        "name": "CÔNG TY CỔ PHẦN THỦY SẢN CÁI RĂNG",
        "short_name": "CAI RANG SEAFOOD JSC",
        "foreign_name": "CAI RANG SEAFOOD JOINT STOCK COMPANY",
        "enterprise_type": "Công ty cổ phần",
        "status": {"code": "active", "text": "Đang hoạt động"},
        "founding_date": "2008-11-20",
        "head_office_address": "Lô 2-20 khu công nghiệp Hưng Phú, phường Tân Phú, "
        "quận Cái Răng, thành phố Cần Thơ",
        "representatives": ["Lê Hoàng Phúc"],
        "charter_capital": 12_500_000_000,
        "enterprise_id": "287611",
    }
