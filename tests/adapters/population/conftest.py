"""Fixtures for the population adapter: a real sandbox on loopback, a real session, fresh keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.population.client import PopulationClient
from adapters.population.config import PopulationConfig
from adapters.population.sandbox import start_sandbox
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.citizens import fold_for_request


@dataclass
class RunningSandbox:
    base_url: str
    endpoint: str


StartSandbox = Callable[..., Awaitable[RunningSandbox]]


@pytest.fixture
async def start_population_sandbox() -> AsyncIterator[StartSandbox]:
    """Start sandboxes on 127.0.0.1:0; every one is stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(
        config: PopulationSandboxConfig | None = None, **app_options: Any
    ) -> RunningSandbox:
        config = config or PopulationSandboxConfig(generated_citizens=20)
        runner, base_url = await start_sandbox(config, **app_options)
        runners.append(runner)
        return RunningSandbox(base_url, base_url + config.path)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def sandbox(start_population_sandbox: StartSandbox) -> RunningSandbox:
    """A plain sandbox: no header or WS-Security demands, behaving well."""
    return await start_population_sandbox()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The outbound session as the gateway makes it."""
    async with make_session() as s:
        yield s


MakeClient = Callable[..., Awaitable[PopulationClient]]


@pytest.fixture(params=["compiled", "zeep"])
def codec(request: pytest.FixtureRequest) -> str:
    """Every client test runs with the compiled codec and with zeep: both must behave alike."""
    return str(request.param)


@pytest.fixture
def make_client(session: aiohttp.ClientSession, codec: str) -> MakeClient:
    """A PopulationClient for an endpoint, with config overrides (``codec`` by default)."""

    async def make(endpoint: str, **overrides: Any) -> PopulationClient:
        config = PopulationConfig(endpoint=endpoint, **{"codec": codec, **overrides})
        return await PopulationClient.load(config, session, Unguarded(), fold_name=fold_for_request)

    return make


@dataclass(frozen=True)
class SigningPair:
    cert_file: Path
    key_file: Path


def _self_signed(directory: Path, name: str) -> SigningPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pair = SigningPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pair


@pytest.fixture(scope="session")
def signing_pair(tmp_path_factory: pytest.TempPathFactory) -> SigningPair:
    """An RSA key and self-signed certificate generated for this test run."""
    return _self_signed(tmp_path_factory.mktemp("wsse"), "gateway-signer")


@pytest.fixture(scope="session")
def other_signing_pair(tmp_path_factory: pytest.TempPathFactory) -> SigningPair:
    """A second key the sandbox does not trust."""
    return _self_signed(tmp_path_factory.mktemp("wsse-other"), "stranger")
