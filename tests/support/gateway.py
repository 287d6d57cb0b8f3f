"""The suite's one gateway harness: the gateway built from ``Settings`` by the code
``lienthong run`` uses, on loopback, with its sandbox peers, stopped cleanly.

Every test that runs a gateway goes through here (tests/test_architecture.py):

- :func:`e2e_gateway` starts its own population (SOAP) and NGSP (REST) sandboxes on free
  ports, a dev PKI under ``tmp_path/pki``, and a gateway configured from the embedded
  default with tight resilience policies pointed at them;
- :func:`embedded_gateway` starts every embedded sandbox (payments too) the way
  ``lienthong run`` does, for settings the caller built;
- :func:`start_listeners` starts one more gateway process-in-process from settings
  (another instance on the same store, a changed configuration);
- :func:`serving` and :func:`serve` run any aiohttp app (a bare app under test, a webhook
  receiver) on 127.0.0.1, port 0.

Each yields or returns where it listens; everything stops with the ``AsyncExitStack``
(or the ``async with``) it was started in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.business.sandbox import NgspSandboxConfig
from adapters.business.sandbox import start_sandbox as start_ngsp
from adapters.population.sandbox import start_sandbox as start_population
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.auth.config import ClientConfig
from gateway.auth.signatures import sign_request
from gateway.config import Settings, load_settings
from gateway.dev.embedded import (
    Sandboxes,
    point_at_sandboxes,
    start_sandboxes,
)
from gateway.dev.pki import init_dev_pki
from gateway.server import BoundListeners, Listeners, bind_listeners, start_gateway

SECRETS = {
    "motcua-demo": "motcua-demo-secret-change-me",
    "portal-demo": "portal-demo-secret-change-me",
    "tiny-demo": "tiny-demo-secret",
}

#: An address nothing listens on: the upstream of a test that never calls it.
NOWHERE = "http://127.0.0.1:9"

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
    """A sandbox peer: its base URL and its admin endpoints."""

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
    """A running gateway, its settings, a client session and its sandbox peers."""

    listeners: Listeners
    settings: Settings
    session: aiohttp.ClientSession
    population: Peer
    ngsp: Peer
    pki_dir: Path

    @property
    def url(self) -> str:
        return self.listeners.http_url

    async def another(
        self,
        stack: AsyncExitStack,
        settings: Settings | None = None,
        *,
        bound: BoundListeners | None = None,
    ) -> Gateway:
        """Another gateway (this one's settings unless given) beside this one, with the
        same session and peers: a restart, another instance, a changed configuration."""
        settings = settings or self.settings
        listeners = await start_listeners(stack, settings, bound=bound)
        return Gateway(listeners, settings, self.session, self.population, self.ngsp, self.pki_dir)

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


def gateway_settings(population_url: str, ngsp_url: str, store_url: str, **extra: Any) -> Settings:
    """The embedded default aimed at the given peers and store, with the tight test
    policies and one more client, ``tiny-demo``; ``extra`` replaces whole sections."""
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


def dev_pki_sections(pki_dir: Path) -> dict[str, Any]:
    """``[tls]`` and ``[audit]`` on a dev PKI generated (by the test) into ``pki_dir``."""
    return {
        "tls": {
            "cert_file": str(pki_dir / "server.pem"),
            "key_file": str(pki_dir / "server.key"),
            "client_ca_file": str(pki_dir / "ca.pem"),
            "generate_dev_pki": False,
            "dev_pki_dir": str(pki_dir),
        },
        "audit": {"signing_key_file": str(pki_dir / "audit-signing.key")},
    }


async def start_listeners(
    stack: AsyncExitStack,
    settings: Settings,
    *,
    https_port: int | None = None,
    bound: BoundListeners | None = None,
) -> Listeners:
    """Start a gateway from ``settings`` inside ``stack`` (the code ``lienthong run``
    uses); where it listens."""
    return await start_gateway(settings, stack, https_port=https_port, bound=bound)


@asynccontextmanager
async def e2e_gateway(
    tmp_path: Path,
    *,
    ngsp: bool = True,
    https: bool = True,
    clients: Iterable[ClientConfig] = (),
    **sections: Any,
) -> AsyncIterator[Gateway]:
    """A gateway on its own population and (unless ``ngsp`` is False) NGSP sandboxes, a
    dev PKI under ``tmp_path/pki`` and a store under ``tmp_path``; the HTTPS listener
    unless ``https`` is False. ``sections`` replace whole settings sections (``[tls]``
    and ``[audit]`` default to the dev PKI's); ``clients`` are added to the default's."""
    pki_dir = tmp_path / "pki"
    store_url = f"sqlite:///{tmp_path}/gw.db"
    sections = {**dev_pki_sections(pki_dir), **sections}
    async with AsyncExitStack() as stack:
        pop_cfg = PopulationSandboxConfig()
        pop_runner, pop_base = await start_population(pop_cfg)
        stack.push_async_callback(pop_runner.cleanup)
        population_url = pop_base + pop_cfg.path
        ngsp_base = NOWHERE
        if ngsp:
            first = gateway_settings(population_url, "http://127.0.0.1:0", store_url)
            ngsp_runner, ngsp_base = await start_ngsp(
                NgspSandboxConfig.accepting(
                    first.upstreams.business.adapter, first.sandbox.token_lifetime_seconds
                )
            )
            stack.push_async_callback(ngsp_runner.cleanup)
        settings = gateway_settings(population_url, ngsp_base, store_url, **sections)
        if clients:
            settings = settings.model_copy(update={"clients": [*settings.clients, *clients]})
        init_dev_pki(pki_dir, clients=list(SECRETS))
        listeners = await start_listeners(stack, settings, https_port=0 if https else None)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Gateway(
            listeners, settings, session, Peer(pop_base, session), Peer(ngsp_base, session), pki_dir
        )


async def embedded_gateway(
    stack: AsyncExitStack, settings: Settings, pki_dir: Path
) -> tuple[Gateway, Sandboxes]:
    """A gateway and every embedded sandbox (payments too) inside ``stack``, the way
    ``lienthong run`` starts them: listeners bound first, so the payment sandboxes know
    where to send callbacks and payers."""
    bound = bind_listeners(settings)
    stack.callback(bound.close)
    gateway_url = bound.listeners.http_url
    sandboxes = await start_sandboxes(settings, stack, gateway_url=gateway_url)
    settings = point_at_sandboxes(settings, sandboxes, gateway_url=gateway_url)
    listeners = await start_listeners(stack, settings, bound=bound)
    session = await stack.enter_async_context(aiohttp.ClientSession())
    gateway = Gateway(
        listeners,
        settings,
        session,
        Peer(sandboxes.base_urls["population"], session),
        Peer(sandboxes.base_urls["business"], session),
        pki_dir,
    )
    return gateway, sandboxes


async def serve(app: web.Application, stack: AsyncExitStack, ssl_context: Any = None) -> str:
    """Run ``app`` on 127.0.0.1 (port 0) until ``stack`` closes; its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context is not None else "http"
    return f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"


@asynccontextmanager
async def serving(app: web.Application, ssl_context: Any = None) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (port 0); yield its base URL; stop it afterwards."""
    async with AsyncExitStack() as stack:
        yield await serve(app, stack, ssl_context)
