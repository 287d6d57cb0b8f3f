"""OAuth2 client credentials against the sandbox's token endpoints (NGSP and LGSP styles)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from adapters.config import OAuthConfig
from adapters.errors import (
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamFault,
)
from adapters.oauth import TokenProvider
from tests.business.conftest import Sandbox, SandboxFactory, make_client, ngsp_oauth

FOUND = "1801234562"


def lgsp_oauth(base_url: str, **overrides: object) -> OAuthConfig:
    settings: dict[str, object] = {
        "style": "lgsp",
        "token_url": f"{base_url}/lgsp/token",
        "client_id": SecretStr("sandbox-client-id"),
        "client_secret": SecretStr("sandbox-client-secret"),
    }
    settings.update(overrides)
    return OAuthConfig.model_validate(settings)


async def test_ngsp_style_basic_credentials_obtain_a_token_used_by_lookups(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """NGSP style: Basic consumer key/secret gets a token; the lookup accepts it as Bearer."""
    client, _ = make_client(ngsp, session)
    record = await client.get(FOUND)
    assert record is not None
    stats = await ngsp.stats(session)
    assert stats["token_requests"] == 1
    assert stats["lookups_unauthorized"] == 0


async def test_lgsp_style_form_credentials_and_access_token_header(
    start_ngsp: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    """LGSP style: form client_id/secret plus the lgspaccesstoken header the LGSP demands."""
    sandbox = await start_ngsp(
        lgsp_access={
            "access_key": "ak",
            "secret_key": "sk",
            "app_name": "motcua",
            "partner_code": "CTO",
        }
    )
    access = {
        "access_key": "ak",
        "secret_key": "sk",
        "app_name": "motcua",
        "partner_code": "CTO",
    }
    client, tokens = make_client(
        sandbox, session, oauth=lgsp_oauth(sandbox.base_url, lgsp_access_token=access)
    )
    assert await client.get(FOUND) is not None
    header = json.loads(base64.b64decode(tokens.extra_headers()["lgspaccesstoken"]))
    assert header == {
        "AccessKey": "ak",
        "SecretKey": "sk",
        "AppName": "motcua",
        "PartnerCode": "CTO",
        "PartnerCodeCus": "",
    }


async def test_lgsp_without_required_access_header_is_refused(
    start_ngsp: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    """An LGSP demanding lgspaccesstoken refuses a token request without it: auth error."""
    sandbox = await start_ngsp(
        lgsp_access={"access_key": "ak", "secret_key": "sk", "app_name": "a", "partner_code": "p"}
    )
    client, _ = make_client(sandbox, session, oauth=lgsp_oauth(sandbox.base_url))
    with pytest.raises(UpstreamAuthError):
        await client.get(FOUND)


async def test_wrong_credentials_raise_upstream_auth_error(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A token endpoint refusing the consumer secret → UpstreamAuthError, secret not in logs."""
    oauth = ngsp_oauth(ngsp.base_url, consumer_secret=SecretStr("wrong-secret-value"))
    client, _ = make_client(ngsp, session, oauth=oauth)
    with capture_logs() as logs, pytest.raises(UpstreamAuthError) as caught:
        await client.get(FOUND)
    assert "wrong-secret-value" not in repr(logs)
    assert "wrong-secret-value" not in str(caught.value)
    assert (await ngsp.stats(session))["lookups"] == 0


async def test_token_endpoint_down_is_a_server_side_fault(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A 503 from the token endpoint → a retryable UpstreamFault, not an auth error."""
    await ngsp.misbehave(session, token_endpoint_down=True)
    client, _ = make_client(ngsp, session)
    with pytest.raises(UpstreamFault) as caught:
        await client.get(FOUND)
    assert caught.value.retryable


async def test_unreachable_token_endpoint_is_a_connection_error(
    ngsp: Sandbox, session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    """A refused connection to the token endpoint → UpstreamConnectionError."""
    oauth = ngsp_oauth(ngsp.base_url, token_url=f"http://127.0.0.1:{unused_tcp_port}/token")
    client, _ = make_client(ngsp, session, oauth=oauth)
    with pytest.raises(UpstreamConnectionError):
        await client.get(FOUND)


async def test_thousand_concurrent_calls_without_token_make_one_token_request(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """1000 concurrent lookups with no cached token cause exactly one token request."""
    client, _ = make_client(ngsp, session)
    records = await asyncio.gather(*(client.get(FOUND) for _ in range(1000)))
    assert all(r is not None for r in records)
    stats = await ngsp.stats(session)
    assert stats["token_requests"] == 1
    assert stats["lookups"] == 1000


async def test_token_refreshed_before_expiry_once_mid_burst(
    start_ngsp: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    """When the token nears expiry in the middle of a burst, exactly one refresh happens."""
    sandbox = await start_ngsp(token_lifetime_seconds=120)
    client, _ = make_client(sandbox, session)  # refresh_margin 60 → refresh after 60 s
    await sandbox.misbehave(session, latency_seconds=0.3)
    first = [asyncio.ensure_future(client.get(FOUND)) for _ in range(100)]
    # the first half is at the peer, token in hand (polling the peer's own counter)
    while sandbox.state.stats.lookups < 100:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    sandbox.clock.advance(90)  # past the refresh point, before the peer's expiry
    second = [asyncio.ensure_future(client.get(FOUND)) for _ in range(100)]
    results = await asyncio.gather(*first, *second)
    assert all(r is not None for r in results)
    stats = await sandbox.stats(session)
    assert stats["token_requests"] == 2
    assert stats["lookups_unauthorized"] == 0


async def test_token_expired_at_the_peer_mid_burst_causes_one_refresh(
    start_ngsp: SandboxFactory, session: aiohttp.ClientSession
) -> None:
    """A burst whose token the peer already expired: every 401 shares one refresh, all succeed."""
    sandbox = await start_ngsp(token_lifetime_seconds=120)
    client, tokens = make_client(sandbox, session)
    await tokens.token()
    sandbox.state.clock = lambda: sandbox.clock.monotonic() + 1000  # the peer's clock runs ahead
    results = await asyncio.gather(*(client.get(FOUND) for _ in range(200)))
    assert all(r is not None for r in results)
    sandbox.state.clock = sandbox.clock.monotonic
    stats = await sandbox.stats(session)
    assert stats["token_requests"] == 2
    assert stats["lookups_unauthorized"] == 200


async def test_revoked_tokens_cause_one_refresh_and_a_successful_retry(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """After the peer revokes every token, the next lookup refreshes once and succeeds."""
    client, _ = make_client(ngsp, session)
    assert await client.get(FOUND) is not None
    await ngsp.revoke_tokens(session)
    assert await client.get(FOUND) is not None
    stats = await ngsp.stats(session)
    assert stats["token_requests"] == 2
    assert stats["lookups"] == 3


async def test_a_401_storm_refreshes_once_and_never_loops(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A peer refusing every token: each call retries once after one shared refresh, then fails."""
    client, _ = make_client(ngsp, session)
    await ngsp.misbehave(session, reject_all_tokens=True)
    outcomes = await asyncio.gather(*(client.get(FOUND) for _ in range(50)), return_exceptions=True)
    assert all(isinstance(o, UpstreamAuthError) for o in outcomes)
    stats = await ngsp.stats(session)
    assert stats["token_requests"] == 2  # the first token and one refresh
    assert stats["lookups"] == 100  # each call: one try, one retry


async def test_invalidate_ignores_a_token_already_replaced(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """invalidate(old) after a refresh keeps the new token: late 401s force no refresh."""
    tokens = TokenProvider(ngsp_oauth(ngsp.base_url), session, clock=ngsp.clock.monotonic)
    old = await tokens.token()
    tokens.invalidate(old)
    new = await tokens.token()
    tokens.invalidate(old)
    assert await tokens.token() == new != old
    assert (await ngsp.stats(session))["token_requests"] == 2


async def test_tokens_never_appear_in_logs(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """Obtaining, using and invalidating a token logs no token and no secret."""
    client, tokens = make_client(ngsp, session)
    with capture_logs() as logs:
        await client.get(FOUND)
        token = await tokens.token()
        await ngsp.revoke_tokens(session)
        await client.get(FOUND)
    assert logs
    assert token not in repr(logs)
    assert "sandbox-consumer-secret" not in repr(logs)


def test_config_requires_the_credentials_of_its_style() -> None:
    """An lgsp config without client_id, or with both a value and a file, is refused."""
    with pytest.raises(ValidationError):
        OAuthConfig(style="lgsp", token_url="http://127.0.0.1/t", client_secret=SecretStr("s"))
    with pytest.raises(ValidationError):
        OAuthConfig(
            token_url="http://127.0.0.1/t",
            consumer_key=SecretStr("k"),
            consumer_key_file=Path("/dev/null"),
            consumer_secret=SecretStr("s"),
        )


async def test_credentials_from_files(
    ngsp: Sandbox, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """consumer_key_file / consumer_secret_file are read (trailing newline stripped)."""
    (tmp_path / "key").write_text("sandbox-consumer-key\n")
    (tmp_path / "secret").write_text("sandbox-consumer-secret\n")
    oauth = OAuthConfig(
        token_url=f"{ngsp.base_url}/token",
        consumer_key_file=tmp_path / "key",
        consumer_secret_file=tmp_path / "secret",
    )
    client, _ = make_client(ngsp, session, oauth=oauth)
    assert await client.get(FOUND) is not None
