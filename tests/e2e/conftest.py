"""The whole gateway, driven over loopback through the real sandbox peers.

Each test gets its own sandboxes (population SOAP, NGSP REST) on free ports,
and a gateway started by the same code ``lienthong run`` uses, configured
from the embedded default with its endpoints pointed at those sandboxes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.business.sandbox import start_sandbox as start_ngsp
from adapters.population.sandbox import start_sandbox as start_population
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.auth.config import ClientConfig
from gateway.auth.signatures import sign_request
from gateway.config import Settings, load_settings
from gateway.dev.embedded import ngsp_sandbox_config
from gateway.dev.pki import init_dev_pki
from gateway.server import Listeners, start_gateway
from gateway.store import StoreConfig, open_store

SECRETS = {
    "motcua-demo": "motcua-demo-secret-change-me",
    "portal-demo": "portal-demo-secret-change-me",
    "tiny-demo": "tiny-demo-secret",
}

#: Tight policies so that failures are fast and the breaker trips within a test.
TEST_RESILIENCE: dict[str, Any] = {
    "breaker": {
        "window_seconds": 30,
        "min_calls": 4,
        "failure_rate": 0.5,
        "open_seconds": 0.5,
        "half_open_max_calls": 1,
    },
    "default_operation": {
        "per_try_timeout_seconds": 0.3,
        "deadline_seconds": 0.8,
        "safe_to_retry": True,
        "max_attempts": 2,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    },
}


@dataclass
class Peer:
    base_url: str
    session: aiohttp.ClientSession

    async def admin(self, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if body is None and what == "stats":
            async with self.session.get(f"{self.base_url}/_admin/stats") as r:
                return dict(await r.json())
        async with self.session.post(f"{self.base_url}/_admin/{what}", json=body or {}) as r:
            assert r.status < 300, await r.text()
            return dict(await r.json()) if r.content_type == "application/json" else {}


@dataclass
class Gateway:
    listeners: Listeners
    settings: Settings
    session: aiohttp.ClientSession
    population: Peer
    ngsp: Peer
    pki_dir: Path

    @property
    def url(self) -> str:
        return self.listeners.http_url

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        client: str = "motcua-demo",
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        sign: bool = True,
    ) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
        """Send one request (signed unless ``sign`` is False); returns status, JSON, headers."""
        url = self.url + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if sign:
            hdrs = sign_request(method, url, hdrs, data, client, secret or SECRETS[client])
        async with self.session.request(method, url, data=data or None, headers=hdrs) as r:
            text = await r.text()
            payload = json.loads(text) if text and "json" in (r.content_type or "") else {}
            return r.status, payload, r.headers


async def audit_records_of(gateway: Gateway, request_id: str) -> list[dict[str, Any]]:
    """The audit records of one request, once the buffered writer has committed its inbound one."""
    store = await open_store(StoreConfig(url=gateway.settings.store.url))
    try:
        for _ in range(200):
            rows = await store.fetch_all(
                "SELECT * FROM audit_records WHERE request_id = ? ORDER BY seq", request_id
            )
            if any(r["kind"] == "inbound" for r in rows):
                return rows
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    raise AssertionError("no inbound audit record after 4 s")


def gateway_settings(population_url: str, ngsp_url: str, store_url: str, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {
        "environment": "test",
        "server": {"host": "127.0.0.1", "port": 0, "tls_port": 0},
        "sandbox": {"enabled": False},
        "store": {"url": store_url},
        "upstreams": {
            "population": {
                "adapter": {"endpoint": population_url},
                "resilience": TEST_RESILIENCE,
            },
            "business": {
                "adapter": {
                    "base_url": ngsp_url,
                    "oauth": {
                        "style": "ngsp",
                        "token_url": f"{ngsp_url}/token",
                        "consumer_key": "lienthong-sandbox",
                        "consumer_secret": "ngsp-sandbox-consumer-secret",
                    },
                },
                "resilience": TEST_RESILIENCE,
            },
        },
    }
    overrides.update(extra)
    settings = load_settings(None, **overrides)
    # A client with a tiny bucket (3 requests, then one every 100 s) for rate-limit tests.
    tiny = ClientConfig(
        id="tiny-demo",
        secrets=[SECRETS["tiny-demo"]],
        operations=["businesses.read"],
        rate_per_second=0.01,
        burst=3,
    )
    return settings.model_copy(update={"clients": [*settings.clients, tiny]})


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with AsyncExitStack() as stack:
        pop_cfg = PopulationSandboxConfig()
        pop_runner, pop_base = await start_population(pop_cfg)
        stack.push_async_callback(pop_runner.cleanup)
        settings = gateway_settings(
            pop_base + pop_cfg.path, "http://127.0.0.1:0", f"sqlite:///{tmp_path}/gw.db"
        )
        ngsp_runner, ngsp_base = await start_ngsp(ngsp_sandbox_config(settings))
        stack.push_async_callback(ngsp_runner.cleanup)
        settings = gateway_settings(
            pop_base + pop_cfg.path,
            ngsp_base,
            f"sqlite:///{tmp_path}/gw.db",
            tls={
                "cert_file": str(tmp_path / "pki/server.pem"),
                "key_file": str(tmp_path / "pki/server.key"),
                "client_ca_file": str(tmp_path / "pki/ca.pem"),
                "generate_dev_pki": False,
                "dev_pki_dir": str(tmp_path / "pki"),
            },
            audit={"signing_key_file": str(tmp_path / "pki/audit-signing.key")},
            security={
                "persist_interval_seconds": 0.1,
                "enumeration": {"min_distinct_ids": 5, "mismatch_rate": 0.5},
            },
        )
        init_dev_pki(tmp_path / "pki", clients=list(SECRETS))
        listeners = await start_gateway(settings, stack, https_port=0)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Gateway(
            listeners,
            settings,
            session,
            Peer(pop_base, session),
            Peer(ngsp_base, session),
            tmp_path / "pki",
        )
