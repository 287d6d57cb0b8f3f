"""The client address every layer sees, behind a trusted proxy and without one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.e2e.test_audit_security import _audit_rows
from tests.support.gateway import Gateway

CLIENT = "127.0.0.77"  # the address a (loopback) proxy reports for its client


@pytest.fixture
async def proxied(gateway: Gateway, tmp_path: Path) -> AsyncIterator[Gateway]:
    """A second gateway that trusts its loopback peer as a proxy (own store and chain)."""
    base = gateway.settings
    settings = base.model_copy(
        update={
            "instance_id": "proxied-1",
            "server": base.server.model_copy(update={"trusted_proxies": ("127.0.0.1/32",)}),
            "store": base.store.model_copy(update={"url": f"sqlite:///{tmp_path}/proxied.db"}),
        }
    )
    async with AsyncExitStack() as stack:
        yield await gateway.another(stack, settings)


def _remotes(logs: list[dict[str, Any]], event: str) -> list[Any]:
    return [entry.get("remote") for entry in logs if entry["event"] == event]


async def _rate_limited_remotes(gw: Gateway, forwarded_for: str) -> list[Any]:
    headers = {"X-Forwarded-For": forwarded_for}
    with capture_logs() as logs:
        for _ in range(5):  # tiny-demo's burst is 3
            await gw.call("GET", "/v1/businesses/1801234562", client="tiny-demo", headers=headers)
    return _remotes(logs, "security.rate_limited")


async def test_rate_limit_events_name_the_forwarded_client(proxied: Gateway) -> None:
    """Behind a trusted proxy the security event carries the client's address, not the proxy's."""
    remotes = await _rate_limited_remotes(proxied, f"127.0.0.99, {CLIENT}")
    assert remotes
    assert set(remotes) == {CLIENT}


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(gateway: Gateway) -> None:
    """Without trusted proxies a client cannot choose the address its events carry."""
    remotes = await _rate_limited_remotes(gateway, CLIENT)
    assert remotes
    assert set(remotes) == {"127.0.0.1"}


async def test_refusals_and_audit_records_carry_the_client_address(proxied: Gateway) -> None:
    """A refused signature's event and every inbound audit record name the forwarded client."""
    body = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990"}
    headers = {"X-Forwarded-For": CLIENT}
    with capture_logs() as logs:
        status, _, _ = await proxied.call(
            "POST", "/v1/citizens/verify", body, secret="wrong", headers=headers
        )
    assert status == 401
    assert _remotes(logs, "security.bad_signature") == [CLIENT]
    await proxied.call("GET", "/healthz", sign=False, headers=headers)
    rows = await _audit_rows(proxied, at_least=2)
    inbound = [json.loads(r["detail"]) for r in rows if r["kind"] == "inbound"]
    assert [d["remote"] for d in inbound] == [CLIENT, CLIENT]


async def test_malformed_forwarded_for_is_a_warning_not_an_error(proxied: Gateway) -> None:
    """A trusted proxy's garbage header: the peer's address, a warning, the request served."""
    with capture_logs() as logs:
        status, _, _ = await proxied.call(
            "GET", "/v1/businesses/1801234562", headers={"X-Forwarded-For": "127.0.0.1, bogus"}
        )
    assert status == 200
    warnings = [e for e in logs if e["event"] == "client_address.malformed_forwarded_for"]
    assert [(w["log_level"], w["peer"]) for w in warnings] == [("warning", "127.0.0.1")]
