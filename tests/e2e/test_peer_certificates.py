"""The national system's TLS certificate: pinned, and refused with a security event otherwise."""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from adapters.population.sandbox import create_sandbox_app
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.auth.signatures import sign_request
from gateway.store import StoreConfig, open_store
from tests.support.gateway import SECRETS, gateway_settings, serving, start_listeners

CLAIM = json.dumps(
    {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990"}
).encode()


@pytest.fixture
async def tls_population(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The population sandbox over HTTPS with a trustme certificate: (endpoint, its SHA-256)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    der = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
    config = PopulationSandboxConfig()
    async with serving(create_sandbox_app(config), ctx) as base_url:
        yield base_url + config.path, hashlib.sha256(der).hexdigest()


async def _verify_through(tmp_path: Path, endpoint: str, pin: str) -> tuple[int, dict[str, Any]]:
    settings = gateway_settings(
        endpoint,
        "http://127.0.0.1:9",
        f"sqlite:///{tmp_path}/gw.db",
        tls={"generate_dev_pki": True, "dev_pki_dir": str(tmp_path / "pki")},
        upstreams={
            "population": {"adapter": {"endpoint": endpoint, "tls": {"pinned_sha256": pin}}}
        },
    )
    async with AsyncExitStack() as stack:
        listeners = await start_listeners(stack, settings)
        url = listeners.http_url + "/v1/citizens/verify"
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": "application/json"},
            CLAIM,
            "motcua-demo",
            SECRETS["motcua-demo"],
        )
        async with aiohttp.ClientSession() as s, s.post(url, data=CLAIM, headers=headers) as r:
            return r.status, await r.json(content_type=None)


async def test_the_pinned_certificate_is_accepted(
    tmp_path: Path, tls_population: tuple[str, str]
) -> None:
    """With the peer's own certificate pinned, verification works over TLS."""
    endpoint, digest = tls_population
    status, body = await _verify_through(tmp_path, endpoint, digest)
    assert status == 200
    assert body["verdict"] == "match"


async def test_another_certificate_is_refused_with_a_security_event(
    tmp_path: Path, tls_population: tuple[str, str]
) -> None:
    """A peer presenting another certificate: 502 upstream-certificate-rejected, event stored."""
    endpoint, _ = tls_population
    status, body = await _verify_through(tmp_path, endpoint, "00" * 32)
    assert status == 502
    assert body["type"].endswith("/upstream-certificate-rejected")
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/gw.db"))
    try:
        rows = await store.fetch_all("SELECT kind FROM security_event_log")
    finally:
        await store.close()
    assert "unexpected_peer_certificate" in {r["kind"] for r in rows}
