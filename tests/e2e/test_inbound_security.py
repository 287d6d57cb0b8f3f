"""Inbound authentication and hostile input, end to end: every refusal is a precise problem."""

from __future__ import annotations

import io
import json
import ssl
import time

import aiohttp
import pytest

from gateway.auth.signatures import sign_request
from gateway.config import Settings
from tests.support.gateway import SECRETS, Gateway, start_listeners

CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


def _signed(gateway: Gateway, body: bytes, **kw: object) -> dict[str, str]:
    url = gateway.url + "/v1/citizens/verify"
    return sign_request(
        "POST",
        url,
        {"Content-Type": "application/json"},
        body,
        "motcua-demo",
        SECRETS["motcua-demo"],
        **kw,
    )  # type: ignore[arg-type]


async def _post(gateway: Gateway, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with gateway.session.post(
        gateway.url + "/v1/citizens/verify", data=body, headers=headers
    ) as r:
        assert r.content_type == "application/problem+json" or r.status == 200
        return r.status, await r.json(content_type=None)


async def test_unsigned_request_is_401(gateway: Gateway) -> None:
    """No signature at all: 401 missing-signature."""
    status, body, _ = await gateway.call("POST", "/v1/citizens/verify", CLAIM, sign=False)
    assert status == 401
    assert body["type"].endswith("/missing-signature")


async def test_tampered_body_is_401(gateway: Gateway) -> None:
    """A body changed after signing no longer matches its Content-Digest."""
    body = json.dumps(CLAIM).encode()
    headers = _signed(gateway, body)
    status, problem = await _post(gateway, body.replace(b"An", b"Ba"), headers)
    assert status == 401
    assert problem["type"].endswith("/bad-digest")


async def test_wrong_secret_is_401(gateway: Gateway) -> None:
    """A signature made with another key is a bad signature."""
    status, body, _ = await gateway.call(
        "POST", "/v1/citizens/verify", CLAIM, secret="not-the-secret"
    )
    assert status == 401
    assert body["type"].endswith("/bad-signature")


async def test_stale_request_is_401(gateway: Gateway) -> None:
    """A signature created before the 300 s window is refused."""
    body = json.dumps(CLAIM).encode()
    status, problem = await _post(
        gateway, body, _signed(gateway, body, created=int(time.time()) - 301)
    )
    assert status == 401
    assert problem["type"].endswith("/stale-request")


async def test_replayed_request_is_401(gateway: Gateway) -> None:
    """The same signed request sent twice: the second is a replay."""
    body = json.dumps(CLAIM).encode()
    headers = _signed(gateway, body)
    first, _ = await _post(gateway, body, headers)
    second, problem = await _post(gateway, body, headers)
    assert first == 200
    assert second == 401
    assert problem["type"].endswith("/replayed-request")


async def test_unknown_client_is_401(gateway: Gateway) -> None:
    """A keyid that names no client is refused."""
    body = json.dumps(CLAIM).encode()
    url = gateway.url + "/v1/citizens/verify"
    headers = sign_request(
        "POST", url, {"Content-Type": "application/json"}, body, "stranger", "whatever"
    )
    status, problem = await _post(gateway, body, headers)
    assert status == 401
    assert problem["type"].endswith("/unknown-client")


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    """A body over the 1 MiB limit is refused before it is read."""
    big = b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    headers = _signed(gateway, big)
    async with gateway.session.post(
        gateway.url + "/v1/citizens/verify", data=io.BytesIO(big), headers=headers
    ) as r:
        status, problem = r.status, await r.json(content_type=None)
    assert status == 413
    assert problem["type"].endswith("/payload-too-large")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\xff\xfe", b"[]", b'"a string"', b'{"id_number": ' + b"[" * 5000],
)
async def test_malformed_json_is_400_or_422_never_500(gateway: Gateway, raw: bytes) -> None:
    """Broken or hostile JSON gets a clear 4xx problem, never a 500."""
    status, problem = await _post(gateway, raw, _signed(gateway, raw))
    assert status in (400, 422)
    assert problem["status"] == status


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id_number": 92090001234, "full_name": "A", "birth_date": "1990"},
        {"id_number": "092090001234", "full_name": "", "birth_date": "1990"},
        {"id_number": "092090001234", "full_name": "A B", "birth_date": "1990-02-30"},
        {"id_number": "092090001234", "full_name": "A B", "birth_date": "1990", "x": 1},
        {"id_number": "092090001234", "full_name": "A\u0000B", "birth_date": "1990"},
        {"id_number": "092090001234", "full_name": "A" * 5000, "birth_date": "1990"},
    ],
)
async def test_invalid_fields_are_422_naming_the_field(gateway: Gateway, body: dict) -> None:
    """Schema violations are 422 with the fields named and the values not echoed."""
    status, problem, _ = await gateway.call("POST", "/v1/citizens/verify", body)
    assert status == 422
    assert problem["errors"]
    assert all(e["field"] for e in problem["errors"])
    assert "092090001234" not in json.dumps(problem)


async def test_unknown_route_and_method_are_problems(gateway: Gateway) -> None:
    """404 and 405 come back as problem+json too."""
    s404, p404, _ = await gateway.call("GET", "/v1/nothing-here")
    s405, _, h405 = await gateway.call("GET", "/v1/citizens/verify")
    assert (s404, s405) == (404, 405)
    assert p404["type"].endswith("/no-such-route")
    assert "POST" in h405["Allow"]


async def test_rate_limit_gives_429_with_retry_after(gateway: Gateway) -> None:
    """A client past its token bucket gets 429 and Retry-After (tiny-demo: burst 3)."""
    answers = [
        await gateway.call("GET", "/v1/businesses/1801234562", client="tiny-demo") for _ in range(4)
    ]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    _, problem, headers = answers[-1]
    assert problem["type"].endswith("/rate-limited")
    assert int(headers["Retry-After"]) >= 1


async def test_client_certificate_authenticates_on_the_tls_listener(gateway: Gateway) -> None:
    """On HTTPS, a city-CA certificate with CN motcua-demo is enough: no signature needed."""
    assert gateway.listeners.https_url
    ctx = ssl.create_default_context(cafile=str(gateway.pki_dir / "ca.pem"))
    ctx.load_cert_chain(
        str(gateway.pki_dir / "motcua-demo.pem"), str(gateway.pki_dir / "motcua-demo.key")
    )
    async with (
        aiohttp.ClientSession() as s,
        s.post(gateway.listeners.https_url + "/v1/citizens/verify", json=CLAIM, ssl=ctx) as r,
    ):
        body = await r.json()
    assert r.status == 200
    assert body["verdict"] == "match"


async def test_tls_listener_refuses_a_connection_without_certificate(gateway: Gateway) -> None:
    """Without a client certificate the TLS handshake itself fails."""
    assert gateway.listeners.https_url
    ctx = ssl.create_default_context(cafile=str(gateway.pki_dir / "ca.pem"))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.post(
                gateway.listeners.https_url + "/v1/citizens/verify", json=CLAIM, ssl=ctx
            ) as r:
                await r.read()


async def test_shared_nonces_refuse_a_replay_on_another_instance(gateway: Gateway) -> None:
    """With nonce_store = "store", a nonce used on one instance is refused by another."""
    server = gateway.settings.server.model_copy(update={"nonce_store": "store"})
    shared = gateway.settings.model_copy(update={"server": server})
    answers = await one_nonce_across_instances(gateway, shared, [0, 1])
    assert answers[0][0] == 200
    assert answers[1][0] == 401
    assert answers[1][1].endswith("/replayed-request")


async def one_nonce_across_instances(
    gateway: Gateway, settings: Settings, hops: list[int]
) -> list[tuple[int, str]]:
    """Start two gateways with ``settings``; send one signed verification with one nonce
    and one ``created`` to each instance ``hops`` names, in order; (status, problem type)s."""
    from contextlib import AsyncExitStack

    body = json.dumps(CLAIM).encode()
    path = "/v1/citizens/verify"
    created = int(time.time())
    answers = []
    async with AsyncExitStack() as stack:
        instances = [await start_listeners(stack, settings), await start_listeners(stack, settings)]
        for hop in hops:
            listener = instances[hop]
            # Each instance has its own port, so each request is signed for it, with one nonce.
            headers = sign_request(
                "POST",
                listener.http_url + path,
                {"Content-Type": "application/json"},
                body,
                "motcua-demo",
                SECRETS["motcua-demo"],
                created=created,
                nonce="one-nonce-for-both",
            )
            async with gateway.session.post(
                listener.http_url + path, data=body, headers=headers
            ) as r:
                answers.append((r.status, (await r.json(content_type=None)).get("type", "")))
    return answers
