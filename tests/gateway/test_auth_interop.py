"""Interoperability with the http-message-signatures library (RFC 9421), both ways.

The first test is the recipe of docs/api.md: how a client team signs a request with a
standard library and sends it with aiohttp.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.aiohttp import SignatureMiddleware, SignatureMiddlewareMode

from gateway.auth.signatures import sign_request
from tests.gateway.test_auth_middleware import build_app, demo_registry, serving
from tests.support.clock import FakeClock

SECRET = b"motcua-demo-secret-change-me"
BODY = json.dumps({"so_ho_so": "HS-0001"}).encode()


@dataclass
class OutgoingRequest:
    """The minimal message object the library signs: method, absolute URL, headers."""

    method: str
    url: str
    headers: dict[str, str]


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = build_app(demo_registry(), clock=time.time, rate_clock=FakeClock(0.0).monotonic)
    async with serving(app) as url:
        yield url


async def test_library_signed_request_is_accepted(base_url: str) -> None:
    """A request signed by http-message-signatures' HTTPMessageSigner authenticates the client."""
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"motcua-demo": SECRET}),
    )
    message = OutgoingRequest("POST", base_url + "/v1/echo", {"Content-Type": "application/json"})
    signer.sign(
        message,
        key_id="motcua-demo",
        nonce=secrets.token_urlsafe(16),
        label="sig1",
        covered_component_ids=("@method", "@authority", "@path", "@query"),
        body=BODY,  # adds Content-Digest (sha-256) and covers it
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(message.url, data=BODY, headers=message.headers) as resp,
    ):
        status, answer = resp.status, await resp.json()
    assert status == 200
    assert answer["client"] == "motcua-demo"
    assert answer["data"] == {"so_ho_so": "HS-0001"}


async def test_library_aiohttp_middleware_signed_request_is_accepted(base_url: str) -> None:
    """The library's aiohttp client middleware (default @target-uri coverage) is accepted too."""
    middleware = SignatureMiddleware(
        SignatureMiddlewareMode.SIGN_REQUEST,
        sign_options={
            "origin": base_url,
            "signature_algorithm": algorithms.HMAC_SHA256,
            "key_id": "motcua-demo",
            "key_resolver": MappingKeyResolver(
                public_keys={}, private_keys={"motcua-demo": SECRET}
            ),
            # A fixed nonce: fine for one request; a real client needs one per request.
            "nonce": secrets.token_urlsafe(16),
        },
    )
    async with (
        aiohttp.ClientSession(**middleware.session_kwargs) as session,
        session.post(base_url + "/v1/echo", data=BODY) as resp,
    ):
        status = resp.status
    assert status == 200


def _library_verifier() -> HTTPMessageVerifier:
    return HTTPMessageVerifier(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(public_keys={"motcua-demo": SECRET}, private_keys={}),
    )


def test_our_signature_verifies_with_the_library() -> None:
    """sign_request's headers verify with the library's verifier, digest included."""
    url = "http://127.0.0.1:8700/v1/citizens/verify?lang=vi"
    headers = sign_request(
        "POST", url, {"Content-Type": "application/json"}, BODY, "motcua-demo", SECRET
    )
    results = _library_verifier().verify(
        OutgoingRequest("POST", url, headers),
        require_components=("@method", "@path", "content-digest"),
        body=BODY,
    )
    assert results[0].parameters["keyid"] == "motcua-demo"
    assert results[0].body == BODY


def test_library_rejects_our_signature_over_another_body() -> None:
    """The library refuses our signature when the body differs (the verification is real)."""
    url = "http://127.0.0.1:8700/v1/citizens/verify"
    headers = sign_request("POST", url, {}, BODY, "motcua-demo", SECRET)
    with pytest.raises(InvalidSignature):
        _library_verifier().verify(OutgoingRequest("POST", url, headers), body=b"{}")
