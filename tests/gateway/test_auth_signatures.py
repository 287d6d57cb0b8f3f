"""RFC 9421 signature bases, RFC 9530 digests and the nonce store, as units."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal

import pytest
from aiohttp import web
from pydantic import SecretStr

from gateway.auth.clients import ClientRegistry
from gateway.auth.config import ClientConfig
from gateway.auth.digest import ContentDigestError, make_content_digest, verify_content_digest
from gateway.auth.nonces import InMemoryNonceStore, NonceStoreFull, nonce_store_for
from gateway.auth.signatures import (
    AuthenticationFailed,
    SignedRequest,
    serialize_signature_params,
    sign_request,
    signature_base,
    verify_signed_request,
)
from gateway.config import load_settings
from tests.support.clock import FakeClock

# RFC 9421 Appendix B.2 test request and the B.2.5 HMAC key.
RFC_REQUEST = SignedRequest.from_url(
    "POST",
    "https://example.com/foo?param=Value&Pet=dog",
    {
        "Host": "example.com",
        "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "Content-Type": "application/json",
        "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
        "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        "Content-Length": "18",
    },
)
RFC_HMAC_KEY = base64.b64decode(
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=="
)


def test_rfc9421_hmac_test_vector() -> None:
    """The signature base and HMAC of RFC 9421 §B.2.5 come out exactly."""
    base = signature_base(
        RFC_REQUEST,
        [("date", {}), ("@authority", {}), ("content-type", {})],
        {"created": 1618884473, "keyid": "test-shared-secret"},
    )
    assert base == (
        b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        b'"@authority": example.com\n'
        b'"content-type": application/json\n'
        b'"@signature-params": ("date" "@authority" "content-type")'
        b';created=1618884473;keyid="test-shared-secret"'
    )
    signature = hmac.new(RFC_HMAC_KEY, base, hashlib.sha256).digest()
    assert base64.b64encode(signature) == b"pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8="


def test_derived_components_follow_rfc9421() -> None:
    """@method, @path, @query, @target-uri, @request-target, @scheme and @query-param resolve."""
    components = [
        ("@method", {}),
        ("@target-uri", {}),
        ("@request-target", {}),
        ("@path", {}),
        ("@query", {}),
        ("@scheme", {}),
        ("@query-param", {"name": "Pet"}),
    ]
    base = signature_base(RFC_REQUEST, components, {}).decode()
    assert base.splitlines()[:-1] == [
        '"@method": POST',
        '"@target-uri": https://example.com/foo?param=Value&Pet=dog',
        '"@request-target": /foo?param=Value&Pet=dog',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"@scheme": https',
        '"@query-param";name="Pet": dog',
    ]


def test_authority_drops_default_port_and_lowercases() -> None:
    """@authority is lower-cased and omits the scheme's default port, keeping others."""
    assert SignedRequest.from_url("GET", "https://Example.COM:443/", {}).normalized_authority() == (
        "example.com"
    )
    assert SignedRequest.from_url("GET", "http://127.0.0.1:8700/", {}).normalized_authority() == (
        "127.0.0.1:8700"
    )
    assert SignedRequest.from_url("GET", "http://[::1]/", {}).normalized_authority() == "[::1]"


def test_empty_query_and_path() -> None:
    """Without a query, @query is '?'; an empty path is '/'."""
    base = signature_base(
        SignedRequest.from_url("GET", "http://127.0.0.1:8700", {}),
        [("@query", {}), ("@path", {})],
        {},
    )
    assert base.splitlines()[:2] == [b'"@query": ?', b'"@path": /']


def test_repeated_field_lines_are_joined() -> None:
    """Several lines of one field join with ', ' after trimming, names case-insensitive."""
    request = SignedRequest.from_url("GET", "http://127.0.0.1/", [("X-Tag", " a "), ("x-tag", "b")])
    assert signature_base(request, [("x-tag", {})], {}).splitlines()[0] == b'"x-tag": a, b'


@pytest.mark.parametrize(
    "components",
    [
        [("x-absent", {})],
        [("@method", {}), ("@method", {})],
        [("@unknown", {})],
        [("Content-Type", {})],
        [("content-type", {"sf": True})],
    ],
)
def test_unusable_components_are_refused(components: list[tuple[str, dict[str, object]]]) -> None:
    """Absent fields, duplicates, unknown derived names, capitals and parameters are refused."""
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: each case has its own message
        signature_base(RFC_REQUEST, components, {})


def test_content_digest_rfc9530_example() -> None:
    """make_content_digest reproduces the RFC 9530 example and verify accepts it."""
    body = b'{"hello": "world"}\n'
    digest = make_content_digest(body)
    assert digest == "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    verify_content_digest(digest, body)


def test_content_digest_accepts_sha512_and_ignores_unknown() -> None:
    """sha-512 members verify; members of unknown algorithms are ignored beside a known one."""
    body = b"payload"
    verify_content_digest(make_content_digest(body, "sha-512"), body)
    verify_content_digest("md5=:AAAA:, " + make_content_digest(body), body)


@pytest.mark.parametrize(
    "field",
    [
        make_content_digest(b"other"),
        "md5=:AAAA:",
        "sha-256=not-bytes",
        "sha-256=:" + base64.b64encode(hashlib.sha256(b"payload").digest()).decode(),
        make_content_digest(b"payload") + ", " + make_content_digest(b"other", "sha-512"),
    ],
)
def test_content_digest_refusals(field: str) -> None:
    """Mismatches, only-unknown algorithms and malformed fields are refused."""
    with pytest.raises(ContentDigestError):
        verify_content_digest(field, b"payload")


async def test_nonce_store_refuses_a_seen_nonce_until_it_expires() -> None:
    """A nonce is accepted once, refused while unexpired, and forgotten after expiry."""
    clock = FakeClock(100.0)
    store = InMemoryNonceStore(clock=clock.time)
    assert await store.remember("motcua-demo", "n1", 400.0)
    assert not await store.remember("motcua-demo", "n1", 400.0)
    assert await store.remember("portal-demo", "n1", 400.0)
    clock.set(400.0)
    assert await store.remember("motcua-demo", "n1", 700.0)


async def test_the_gateway_nonce_store_holds_what_the_config_says() -> None:
    """[server] max_nonces bounds the in-memory store the gateway builds."""
    settings = load_settings(None, environment="test", server={"max_nonces": 2})
    store = nonce_store_for(settings, web.Application(), FakeClock(0.0).time)
    assert await store.remember("c1", "a", 10.0)
    assert await store.remember("c1", "b", 10.0)
    with pytest.raises(NonceStoreFull):
        await store.remember("c1", "c", 10.0)
    assert load_settings(None, environment="test").server.max_nonces == 1_000_000


async def test_nonce_store_is_bounded_and_sweeps_expired() -> None:
    """A full store refuses new nonces (no eviction) until expired entries are swept."""
    clock = FakeClock(0.0)
    store = InMemoryNonceStore(max_entries=2, clock=clock.time)
    assert await store.remember("c1", "a", 10.0)
    assert await store.remember("c1", "b", 20.0)
    with pytest.raises(NonceStoreFull):
        await store.remember("c1", "c", 30.0)
    clock.set(15.0)
    assert await store.remember("c1", "c", 30.0)
    assert len(store) == 2


def _verify_kwargs(now: float = 1_800_000_000.0) -> dict[str, object]:
    registry = ClientRegistry(
        [
            ClientConfig(id="motcua-demo", secrets=[SecretStr("k")]),
            ClientConfig(id="mtls-only", certificate_cns=["mtls-only"]),
        ]
    )
    return {"clients": registry, "nonces": InMemoryNonceStore(clock=lambda: now), "now": now}


def _with_input(headers: dict[str, str], signature_input: str) -> SignedRequest:
    return SignedRequest.from_url("POST", URL, {**headers, "Signature-Input": signature_input})


URL = "http://127.0.0.1:8700/v1/echo"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ('created=1800000000;keyid="motcua-demo";alg="ed25519";nonce="n"', "insufficient-coverage"),
        ('created=1800000000;keyid="motcua-demo"', "insufficient-coverage"),
        ('keyid="motcua-demo";nonce="n"', "insufficient-coverage"),
        ('created=1800000000;keyid="motcua-demo";nonce="n";expires=1700000000', "stale-request"),
        ('created=1800000000;keyid="mtls-only";nonce="n"', "unknown-client"),
        ('created=1800000000;nonce="n"', "unknown-client"),
    ],
)
async def test_signature_parameters_are_enforced(params: str, expected: str) -> None:
    """alg, created and nonce are required as specified; expires is honoured; keyid must sign."""
    headers = sign_request("POST", URL, {}, b"", "motcua-demo", "k")
    request = _with_input(headers, f'sig1=("@method" "@path");{params}')
    with pytest.raises(AuthenticationFailed) as failure:
        await verify_signed_request(request, b"", **_verify_kwargs())  # type: ignore[arg-type]
    assert failure.value.type_name == expected
    assert failure.value.status == 401


async def test_body_requires_covered_digest() -> None:
    """A body whose Content-Digest is not covered is insufficient coverage."""
    headers = sign_request("POST", URL, {}, b"{}", "motcua-demo", "k", covered=("@method", "@path"))
    label, _, value = headers["Signature-Input"].partition("=")
    request = _with_input(headers, label + "=" + value.replace(' "content-digest"', ""))
    with pytest.raises(AuthenticationFailed) as failure:
        await verify_signed_request(request, b"{}", **_verify_kwargs())  # type: ignore[arg-type]
    assert failure.value.type_name == "insufficient-coverage"


async def test_valid_signature_returns_the_client() -> None:
    """A correct signature yields the signing client's configuration."""
    headers = sign_request("POST", URL, {}, b"{}", "motcua-demo", "k", created=1_800_000_000)
    request = SignedRequest.from_url("POST", URL, headers)
    client = await verify_signed_request(request, b"{}", **_verify_kwargs())  # type: ignore[arg-type]
    assert client.id == "motcua-demo"


def test_component_identifiers_keep_their_parameter_types() -> None:
    """A boolean, an integer and a decimal parameter serialize differently, whatever the
    order they are met in (Python's True == 1 == 1.0 must not conflate them)."""
    assert serialize_signature_params([("x-a", {"p": True})], {}) == '("x-a";p)'
    assert serialize_signature_params([("x-a", {"p": 1})], {}) == '("x-a";p=1)'
    assert serialize_signature_params([("x-a", {"p": Decimal("1.0")})], {}) == '("x-a";p=1.0)'
    assert serialize_signature_params([("x-a", {"p": True})], {}) == '("x-a";p)'
