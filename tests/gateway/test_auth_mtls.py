"""Client certificates on the gateway's TLS listener, from a dev PKI made at test time."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.auth.tls import server_ssl_context
from gateway.dev.pki import DevPKI, init_dev_pki
from gateway.problems import PROBLEM_BASE
from tests.gateway.test_auth_middleware import (
    build_app,
    demo_registry,
    serving,
    signed,
)
from tests.support.clock import FakeClock


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    return init_dev_pki(
        tmp_path_factory.mktemp("pki"), clients=["motcua-demo", "portal-demo", "stranger-app"]
    )


@pytest.fixture(scope="module")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPKI:
    """Another CA issuing a certificate with the same CN."""
    return init_dev_pki(tmp_path_factory.mktemp("foreign"), clients=["motcua-demo"])


def client_context(pki: DevPKI, trusted_ca: Path, client: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(trusted_ca))
    if client is not None:
        pair = pki.clients[client]
        context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


async def get_items(
    base_url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url + "/v1/items", ssl=context, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


def _app() -> tuple[web.Application, FakeClock]:
    clock = FakeClock(1_800_000_000.0)
    return build_app(demo_registry(), clock=clock.time, rate_clock=FakeClock(0.0).monotonic), clock


async def test_client_certificate_authenticates_the_client(pki: DevPKI) -> None:
    """A certificate from the city CA with CN motcua-demo authenticates motcua-demo over mTLS."""
    server = server_ssl_context(pki.server.cert, pki.server.key, pki.ca.cert)
    app, _ = _app()
    async with serving(app, server) as url:
        status, body = await get_items(url, client_context(pki, pki.ca.cert, "motcua-demo"))
    assert status == 200
    assert body == {"client": "motcua-demo", "auth_method": "mtls"}


async def test_required_certificate_missing_fails_the_handshake(pki: DevPKI) -> None:
    """With require_client_cert, a client without a certificate never gets an HTTP answer."""
    server = server_ssl_context(pki.server.cert, pki.server.key, pki.ca.cert)
    app, _ = _app()
    async with serving(app, server) as url:
        with pytest.raises(aiohttp.ClientError):
            await get_items(url, client_context(pki, pki.ca.cert, None))


async def test_optional_certificate_missing_falls_back_to_signature(pki: DevPKI) -> None:
    """Without require_client_cert, no certificate and no signature is 401; a signature works."""
    server = server_ssl_context(
        pki.server.cert, pki.server.key, pki.ca.cert, require_client_cert=False
    )
    app, clock = _app()
    context = client_context(pki, pki.ca.cert, None)
    async with serving(app, server) as url:
        unsigned_status, unsigned = await get_items(url, context)
        headers = signed("GET", url + "/v1/items", created=clock.time())
        signed_status, signed_body = await get_items(url, context, headers)
    assert (unsigned_status, unsigned["type"]) == (401, PROBLEM_BASE + "missing-signature")
    assert (signed_status, signed_body["auth_method"]) == (200, "signature")


@pytest.mark.parametrize("require", [True, False])
async def test_certificate_from_another_ca_is_refused(
    pki: DevPKI, foreign_pki: DevPKI, require: bool
) -> None:
    """A certificate with a known CN but issued by another CA fails the handshake."""
    server = server_ssl_context(
        pki.server.cert, pki.server.key, pki.ca.cert, require_client_cert=require
    )
    app, _ = _app()
    async with serving(app, server) as url:
        with pytest.raises(aiohttp.ClientError):
            await get_items(url, client_context(foreign_pki, pki.ca.cert, "motcua-demo"))


async def test_certificate_for_an_unknown_client_is_401(pki: DevPKI) -> None:
    """A valid city-CA certificate whose CN names no client is 401 unknown-client."""
    server = server_ssl_context(pki.server.cert, pki.server.key, pki.ca.cert)
    app, _ = _app()
    async with serving(app, server) as url:
        status, body = await get_items(url, client_context(pki, pki.ca.cert, "stranger-app"))
    assert (status, body["type"]) == (401, PROBLEM_BASE + "unknown-client")


def test_server_context_refuses_old_tls(pki: DevPKI) -> None:
    """The listener's context accepts nothing older than TLS 1.2."""
    server = server_ssl_context(pki.server.cert, pki.server.key, pki.ca.cert)
    assert server.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert server.verify_mode == ssl.CERT_REQUIRED
