"""Fixtures for the business registration tests: the NGSP sandbox over loopback, a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.business.client import BusinessClient
from adapters.business.config import BusinessConfig
from adapters.business.sandbox import SANDBOX, NgspSandbox, NgspSandboxConfig, start_sandbox
from adapters.config import OAuthConfig
from adapters.guard import CallGuard, Unguarded
from adapters.http import make_session
from adapters.oauth import TokenProvider
from tests.support.clock import FakeClock


@dataclass
class Sandbox:
    """A running NGSP sandbox: its state (stats, misbehaviour) and its base URL."""

    state: NgspSandbox
    base_url: str
    clock: FakeClock

    async def misbehave(self, session: aiohttp.ClientSession, **settings: Any) -> None:
        async with session.post(f"{self.base_url}/_admin/misbehaviour", json=settings) as r:
            assert r.status == 200

    async def revoke_tokens(self, session: aiohttp.ClientSession) -> None:
        async with session.post(f"{self.base_url}/_admin/revoke-tokens") as r:
            assert r.status == 200

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(f"{self.base_url}/_admin/stats") as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            return body


SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
def clock() -> FakeClock:
    """The clock the sandbox, the token provider and the cache read (monotonic seconds)."""
    return FakeClock(1000.0)


@pytest.fixture
async def start_ngsp(clock: FakeClock) -> AsyncIterator[SandboxFactory]:
    """Start NGSP sandboxes (config keywords); all are stopped after the test."""
    runners: list[Any] = []

    async def start(**settings: Any) -> Sandbox:
        runner, base_url = await start_sandbox(NgspSandboxConfig(**settings), clock=clock.monotonic)
        runners.append(runner)
        return Sandbox(runner.app[SANDBOX], base_url, clock)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def ngsp(start_ngsp: SandboxFactory) -> Sandbox:
    """The default sandbox: one-hour tokens, 100 generated businesses, no misbehaviour."""
    return await start_ngsp()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    s = make_session()
    yield s
    await s.close()


def ngsp_oauth(base_url: str, **overrides: Any) -> OAuthConfig:
    settings: dict[str, Any] = {
        "style": "ngsp",
        "token_url": f"{base_url}/token",
        "consumer_key": SecretStr("sandbox-consumer-key"),
        "consumer_secret": SecretStr("sandbox-consumer-secret"),
        "refresh_margin_seconds": 60,
    }
    settings.update(overrides)
    return OAuthConfig(**settings)


def make_client(
    sandbox: Sandbox,
    session: aiohttp.ClientSession,
    *,
    oauth: OAuthConfig | None = None,
    guard: CallGuard | None = None,
    **config: Any,
) -> tuple[BusinessClient, TokenProvider]:
    """A business client (and its token provider) pointed at ``sandbox``."""
    oauth = oauth or ngsp_oauth(sandbox.base_url)
    business = BusinessConfig(base_url=sandbox.base_url, oauth=oauth, **config)
    tokens = TokenProvider(oauth, session, clock=sandbox.clock.monotonic, upstream="business")
    return BusinessClient(business, session, guard or Unguarded(), tokens), tokens
