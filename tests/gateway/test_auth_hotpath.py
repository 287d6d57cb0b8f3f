"""The signature check's prepared work gives what the work done afresh gives.

The parameters are serialized without http_sf when they are strings and integers (the
signature shape), the header fields are indexed once per request, and the clients' keys
are encoded when the clients are set: each is held against the plain path here.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from http_sf.parameters import ser_params
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.testing import capture_logs

from gateway.auth import signatures
from gateway.auth.clients import ClientRegistry
from gateway.auth.config import ClientConfig
from gateway.auth.middleware import _debug_logged, is_public, public_path_test
from gateway.auth.nonces import InMemoryNonceStore
from gateway.auth.signatures import (
    AuthenticationFailed,
    SignedRequest,
    _serialize_params,
    sign_request,
    verify_signed_request,
)
from tests.gateway.test_auth_structured import PROPERTY

param_keys = st.one_of(
    st.sampled_from(["created", "keyid", "alg", "nonce", "expires", "tag", "*k", "a.b_c-1"]),
    st.text(alphabet="az*09_.-AÉ ", min_size=0, max_size=5),
)
param_values = st.one_of(
    st.integers(-(10**15) - 2, 10**15 + 2),
    st.integers(1_600_000_000, 1_900_000_000),
    st.text(alphabet=st.characters(min_codepoint=0x1F, max_codepoint=0x80), max_size=10),
    st.text(alphabet='az"\\ ~', max_size=6),
    st.booleans(),
    st.binary(max_size=4),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
)


def _outcome(serialize: Any, params: dict[str, Any]) -> tuple[str, str]:
    try:
        return "ok", serialize(params)
    except (ValueError, TypeError) as exc:
        return "refused", type(exc).__name__


@PROPERTY
@given(st.dictionaries(param_keys, param_values, max_size=5))
def test_parameters_serialize_as_http_sf_does(params: dict[str, Any]) -> None:
    """Same text as http_sf's ser_params for any parameters, or the same refusal."""
    assert _outcome(_serialize_params, params) == _outcome(ser_params, params)


def test_signature_parameters_take_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parameters a client signs with are written without http_sf, escapes included."""

    def not_called(params: object) -> str:
        raise AssertionError("http_sf serialized the signature parameters")

    monkeypatch.setattr(signatures, "ser_params", not_called)
    params = {"created": 1_800_000_000, "keyid": "one-stop", "alg": "hmac-sha256", "nonce": 'a"\\'}
    assert _serialize_params(params) == (
        ';created=1800000000;keyid="one-stop";alg="hmac-sha256";nonce="a\\"\\\\"'
    )


header_names = st.sampled_from(
    ["Signature", "signature", "SIGNATURE-INPUT", "Content-Digest", "Host", "X-A", "x-a"]
)
header_values = st.text(alphabet=" \tab,:=", max_size=6)


@PROPERTY
@given(
    st.lists(st.tuples(header_names, header_values), max_size=8),
    st.sampled_from(["signature", "signature-input", "content-digest", "x-a", "X-A", "absent"]),
)
def test_field_joins_every_line_of_a_field(headers: list[tuple[str, str]], name: str) -> None:
    """``field`` gives what a scan of the headers gives: the lines trimmed and joined in order."""
    request = SignedRequest("GET", "http", "h", "/", None, tuple(headers))
    lines = [v.strip(" \t") for k, v in headers if k.lower() == name]
    assert request.field(name) == (", ".join(lines) if lines else None)


URL = "http://127.0.0.1:8700/v1/echo"


async def test_a_reload_swaps_the_signing_keys() -> None:
    """After ``replace``, the new secret verifies and the old one no longer does."""
    registry = ClientRegistry([ClientConfig(id="one-stop", secrets=[SecretStr("old")])])
    nonces = InMemoryNonceStore(clock=lambda: 1_800_000_000.0)

    async def verify(secret: str, nonce: str) -> ClientConfig:
        headers = sign_request(
            "GET", URL, {}, b"", "one-stop", secret, created=1_800_000_000, nonce=nonce
        )
        return await verify_signed_request(
            SignedRequest.from_url("GET", URL, headers),
            b"",
            clients=registry,
            nonces=nonces,
            now=1_800_000_000.0,
        )

    assert (await verify("old", "n1")).id == "one-stop"
    registry.replace([ClientConfig(id="one-stop", secrets=[SecretStr("new")])])
    assert (await verify("new", "n2")).id == "one-stop"
    with pytest.raises(AuthenticationFailed) as failure:
        await verify("old", "n3")
    assert failure.value.type_name == "bad-signature"
    registry.replace([])
    with pytest.raises(AuthenticationFailed) as gone:
        await verify("new", "n4")
    assert gone.value.type_name == "unknown-client"


PUBLIC = ("/healthz", "/metrics", "/callbacks/", "", "/pay/return/")


@PROPERTY
@given(st.text(alphabet="/healthzcbkspmtric", max_size=14))
def test_public_paths_as_the_scan_decides(path: str) -> None:
    """The prepared test answers as the scan of every public path does."""
    scan = any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC)
    assert public_path_test(PUBLIC)(path) is scan
    assert is_public(path, PUBLIC) is scan


@pytest.mark.parametrize(
    ("wrapper", "logged"),
    [
        (structlog.make_filtering_bound_logger(logging.DEBUG), True),
        (structlog.make_filtering_bound_logger(logging.INFO), False),
        (structlog.make_filtering_bound_logger(logging.ERROR), False),
        (structlog.BoundLogger, True),
    ],
)
def test_the_debug_line_is_skipped_only_when_it_would_be_dropped(
    wrapper: type[Any], logged: bool
) -> None:
    """The auth.authenticated debug line is built whenever the configured logger writes it."""
    saved = structlog.get_config()
    try:
        structlog.configure(wrapper_class=wrapper)
        assert _debug_logged() is logged
        with capture_logs() as events:
            structlog.get_logger("gateway.auth").debug("auth.authenticated")
        assert bool(events) is logged
    finally:
        structlog.configure(**saved)
