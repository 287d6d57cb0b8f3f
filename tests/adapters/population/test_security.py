"""NDXP headers and WS-Security, sent by the adapter and checked by the sandbox."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from zeep.wsse import Compose
from zeep.wsse.signature import MemorySignature

from adapters.errors import UpstreamAuthError
from adapters.population.codec import load_wire
from adapters.population.config import (
    SHIPPED_WSDL,
    NdxpHeaders,
    UsernameTokenSettings,
    WsSecuritySettings,
    X509SigningSettings,
)
from adapters.population.models import CitizenQuery
from adapters.population.sandbox_config import ExpectedUsernameToken, PopulationSandboxConfig
from adapters.population.wsse import SecurityTimestamp, build_ws_security

from .conftest import MakeClient, SigningPair, StartSandbox
from .envelopes import IN_ORDER, post_envelope

NDXP = NdxpHeaders(
    x_road_client="VN/GOV/000.00.00.H10/LIENTHONG",
    api_key=SecretStr("sandbox-api-key"),
    basic_user="lienthong",
    basic_secret=SecretStr("sandbox-basic-secret"),
)
KNOWN = CitizenQuery(id_number="092090001234")


async def _stats(session: aiohttp.ClientSession, base_url: str) -> dict[str, object]:
    async with session.get(base_url + "/_admin/stats") as resp:
        stats: dict[str, object] = await resp.json()
    return stats


async def test_ndxp_headers_are_accepted(
    start_population_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """With the configured X-Road-Client, ApiKey and Basic sha256 token the call goes through."""
    sandbox = await start_population_sandbox(PopulationSandboxConfig(ndxp=NDXP))
    client = await make_client(sandbox.endpoint, ndxp=NDXP)
    assert await client.lookup(KNOWN) is not None


async def test_ndxp_secret_read_from_a_file(
    start_population_sandbox: StartSandbox, make_client: MakeClient, tmp_path: Path
) -> None:
    """basic_secret_file supplies the secret as if it were inline."""
    secret_file = tmp_path / "basic-secret"
    secret_file.write_text("sandbox-basic-secret\n")
    sandbox = await start_population_sandbox(PopulationSandboxConfig(ndxp=NDXP))
    ndxp = NdxpHeaders(
        x_road_client=NDXP.x_road_client,
        api_key=NDXP.api_key,
        basic_user=NDXP.basic_user,
        basic_secret_file=secret_file,
    )
    client = await make_client(sandbox.endpoint, ndxp=ndxp)
    assert await client.lookup(KNOWN) is not None


@pytest.mark.parametrize(
    "wrong",
    [
        {"basic_secret": SecretStr("not-the-secret")},
        {"api_key": SecretStr("stolen-key")},
        {"x_road_client": "VN/GOV/999/OTHER"},
    ],
    ids=["secret", "api_key", "x_road_client"],
)
async def test_wrong_ndxp_credentials_are_refused(
    start_population_sandbox: StartSandbox,
    make_client: MakeClient,
    session: aiohttp.ClientSession,
    wrong: dict[str, object],
) -> None:
    """A wrong secret, key or client id: HTTP 401 from the peer, UpstreamAuthError here."""
    sandbox = await start_population_sandbox(PopulationSandboxConfig(ndxp=NDXP))
    client = await make_client(sandbox.endpoint, ndxp=NDXP.model_copy(update=wrong))
    with pytest.raises(UpstreamAuthError) as caught:
        await client.lookup(KNOWN)
    assert "not-the-secret" not in str(caught.value)
    assert (await _stats(session, sandbox.base_url))["answers"] == {"refused": 1}


async def test_username_token_is_verified(
    start_population_sandbox: StartSandbox, make_client: MakeClient
) -> None:
    """A UsernameToken (text and digest) with the right password passes; a wrong one does not."""
    expected = ExpectedUsernameToken(username="lienthong", password=SecretStr("pw-123"))
    sandbox = await start_population_sandbox(PopulationSandboxConfig(username_token=expected))
    for digest in (False, True):
        token = UsernameTokenSettings(
            username="lienthong", password=SecretStr("pw-123"), digest=digest
        )
        client = await make_client(
            sandbox.endpoint, ws_security=WsSecuritySettings(username_token=token)
        )
        assert await client.lookup(KNOWN) is not None
    wrong = UsernameTokenSettings(username="lienthong", password=SecretStr("pw-999"))
    client = await make_client(
        sandbox.endpoint, ws_security=WsSecuritySettings(username_token=wrong)
    )
    with pytest.raises(UpstreamAuthError) as caught:
        await client.lookup(KNOWN)
    assert "FailedAuthentication" in str(caught.value)


async def test_x509_sha256_signature_is_verified(
    start_population_sandbox: StartSandbox, make_client: MakeClient, signing_pair: SigningPair
) -> None:
    """Body and wsu:Timestamp signed RSA-SHA256 with the trusted key are accepted."""
    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(trusted_signing_cert=signing_pair.cert_file)
    )
    signing = X509SigningSettings(cert_file=signing_pair.cert_file, key_file=signing_pair.key_file)
    client = await make_client(sandbox.endpoint, ws_security=WsSecuritySettings(signing=signing))
    assert await client.lookup(KNOWN) is not None


async def test_untrusted_key_and_unsigned_calls_are_refused(
    start_population_sandbox: StartSandbox,
    make_client: MakeClient,
    signing_pair: SigningPair,
    other_signing_pair: SigningPair,
) -> None:
    """A signature by another key, or none at all, is refused as a WS-Security failure."""
    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(trusted_signing_cert=signing_pair.cert_file)
    )
    stranger = X509SigningSettings(
        cert_file=other_signing_pair.cert_file, key_file=other_signing_pair.key_file
    )
    signed_by_stranger = await make_client(
        sandbox.endpoint, ws_security=WsSecuritySettings(signing=stranger)
    )
    with pytest.raises(UpstreamAuthError):
        await signed_by_stranger.lookup(KNOWN)
    unsigned = await make_client(sandbox.endpoint)
    with pytest.raises(UpstreamAuthError):
        await unsigned.lookup(KNOWN)


def _signed_lookup(ws: object, codec: str) -> bytes:
    wire = load_wire(codec, SHIPPED_WSDL, ws)  # type: ignore[arg-type]
    return wire.build_request(dict(IN_ORDER))


async def test_tampered_signed_body_is_refused(
    start_population_sandbox: StartSandbox,
    session: aiohttp.ClientSession,
    signing_pair: SigningPair,
    codec: str,
) -> None:
    """Changing the personal id inside a signed Body breaks the digest: wsse:FailedCheck."""
    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(trusted_signing_cert=signing_pair.cert_file)
    )
    signing = X509SigningSettings(cert_file=signing_pair.cert_file, key_file=signing_pair.key_file)
    body = _signed_lookup(build_ws_security(WsSecuritySettings(signing=signing), time.time), codec)
    status, _ = await post_envelope(session, sandbox.endpoint, body)
    assert status == 200
    tampered = body.replace(b"092090001234", b"092195004321")
    assert tampered != body
    status, reply = await post_envelope(session, sandbox.endpoint, tampered)
    assert status == 500
    assert "wsse:FailedCheck" in reply


async def test_sha1_signature_is_refused(
    start_population_sandbox: StartSandbox,
    session: aiohttp.ClientSession,
    signing_pair: SigningPair,
    codec: str,
) -> None:
    """zeep's default RSA-SHA1 signature is refused by the sandbox."""
    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(trusted_signing_cert=signing_pair.cert_file)
    )
    zeep_default = MemorySignature(  # type: ignore[no-untyped-call]
        signing_pair.key_file.read_bytes(), signing_pair.cert_file.read_bytes()
    )
    sha1 = Compose([SecurityTimestamp(300, time.time), zeep_default])  # type: ignore[no-untyped-call]
    status, reply = await post_envelope(session, sandbox.endpoint, _signed_lookup(sha1, codec))
    assert status == 500
    assert "RSA-SHA256" in reply


async def test_expired_timestamp_is_refused(
    start_population_sandbox: StartSandbox,
    session: aiohttp.ClientSession,
    signing_pair: SigningPair,
    codec: str,
) -> None:
    """A correctly signed envelope whose wsu:Timestamp has expired is refused."""
    sandbox = await start_population_sandbox(
        PopulationSandboxConfig(trusted_signing_cert=signing_pair.cert_file)
    )
    signing = X509SigningSettings(cert_file=signing_pair.cert_file, key_file=signing_pair.key_file)
    hour_ago = time.time() - 3600
    body = _signed_lookup(
        build_ws_security(WsSecuritySettings(signing=signing), lambda: hour_ago), codec
    )
    status, reply = await post_envelope(session, sandbox.endpoint, body)
    assert status == 500
    assert "MessageExpired" in reply
