"""The fast structured-field parser against http_sf: same dictionary, or both refuse.

Headers are generated around the shape the gateway's clients send (one label, an
inner list of component names, created/keyid/alg/nonce, a base64 signature or digest)
and then bent: odd whitespace, several labels, bad or non-canonical base64, params in
other orders or twice, other item types (tokens, booleans, decimals, big integers),
escapes and non-ASCII.
"""

from __future__ import annotations

import base64
from typing import Any

import http_sf
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.auth.signatures import sign_request
from gateway.auth.structured import _fast, parse_dictionary

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mostly(common: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """``common`` nine times in ten, ``odd`` otherwise."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else common)


keys = _mostly(
    st.one_of(
        st.sampled_from(["sig1", "sig-b21", "sha-256", "sha-512", "*x", "a.b_c", "k1"]),
        st.text(alphabet="az*09_.-", min_size=1, max_size=6).filter(lambda k: k[0] in "az*"),
    ),
    st.one_of(
        st.sampled_from(["Sig1", "1sig", "", "s ig", "sig1 ", "é"]),
        st.text(alphabet="az*09_.-A", min_size=1, max_size=6),
    ),
)
strings = _mostly(
    st.one_of(
        st.sampled_from(['"@method"', '"@path"', '"content-digest"', '"@authority"', '""']),
        st.text(alphabet=" !#@az-_;=,()/:~", max_size=8).map(lambda t: f'"{t}"'),
    ),
    st.sampled_from(['"a\\"b"', '"a\\\\b"', '"é"', '"a\tb"', '"a', "'x'", '"\x7f"']),
)
integers = _mostly(
    st.one_of(
        st.integers(-(10**15) + 1, 10**15 - 1).map(str),
        st.integers(1_600_000_000, 1_900_000_000).map(str),
    ),
    st.sampled_from(["007", "-0", "1234567890123456", "-1234567890123456", "--1", "1.5", "+1"]),
)
other_items = st.sampled_from(["?1", "?0", "token", "tok/en", "1.25", ":AAAA:", "@1700000000"])
param_values = _mostly(st.one_of(strings, integers), other_items)
params = st.lists(
    st.tuples(
        _mostly(
            st.sampled_from(["created", "keyid", "alg", "nonce", "expires", "tag"]),
            st.sampled_from(["Created", "1x", "k-1", "*"]),
        ),
        _mostly(param_values, st.none()),
    ),
    max_size=6,
).map(lambda ps: "".join(f";{k}" if v is None else f";{k}={v}" for k, v in ps))


@st.composite
def byte_sequences(draw: st.DrawFn) -> str:
    raw = draw(st.binary(max_size=70))
    text = base64.b64encode(raw).decode()
    bend = draw(st.integers(0, 8))
    if bend == 1:
        text = text.rstrip("=")
    elif bend == 2 and text:
        text = text[:-1] + draw(st.sampled_from(["A", "B", "=", "-", "_", "*", " "]))
    elif bend == 3:
        text += "="
    return f":{text}:"


@st.composite
def inner_lists(draw: st.DrawFn) -> str:
    items = draw(st.lists(strings, max_size=6))
    separator = draw(st.sampled_from([" "] * 6 + ["  ", "\t", ""]))
    inner = separator.join(items)
    if draw(st.integers(0, 6)) == 0:
        inner = f" {inner} "
    return f"({inner}){draw(params)}"


@st.composite
def members(draw: st.DrawFn) -> str:
    value = draw(_mostly(st.one_of(byte_sequences(), inner_lists()), param_values))
    if draw(st.integers(0, 8)) == 0:
        value += draw(params)
    return f"{draw(keys)}={value}"


@st.composite
def fields(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 2)):  # one member, no outer whitespace: the fast path's own ground
        return draw(members())
    parts = draw(st.lists(members(), min_size=1, max_size=3))
    joined = draw(st.sampled_from([", ", ",", " , ", ",\t"])).join(parts)
    if draw(st.integers(0, 8)) == 0:
        joined = draw(st.sampled_from([" ", "\t", ""])) + joined + draw(st.sampled_from(["", " "]))
    return joined


def example_each(values: list[str]) -> Any:
    """``@example`` for each value: the boundaries are checked on every run."""

    def decorate(test: Any) -> Any:
        for value in values:
            test = example(value)(test)
        return test

    return decorate


def _outcome(parse: Any, value: bytes) -> tuple[str, Any]:
    try:
        return ("parsed", parse(value))
    except ValueError:
        return ("refused", None)


def _http_sf(value: bytes) -> Any:
    return http_sf.parse(value, tltype="dictionary")


_BOUNDARIES = [
    'sig1=("@method");created=123456789012345',
    'sig1=("@method");created=1234567890123456',
    'sig1=("@method");created=-123456789012345',
    'sig1=("@method");created=007;created=8',
    'sig1=("@method");keyid="a\\\\b"',
    'sig1=("@method");keyid="a\\"b"',
    'sig1=("@m\x7f")',
    'sig1=("@method" "@path" )',
    'sig1=( "@method")',
    "sig1=:QR==:",
    "sig1=:QQ:",
    "sig1=:Q===:",
    "sig1=:AAA=:, sig2=:AAA=:",
    "sha-256=:AAAA:;x=1",
    "sha-256=:AA-A:",
    "sig1=()",
    "*=()",
]


@pytest.mark.timeout(300)
@PROPERTY
@given(fields())
@example_each(_BOUNDARIES)
def test_same_outcome_as_http_sf(field: str) -> None:
    """The fast path or its fallback parses every generated header as http_sf does."""
    value = field.encode("utf-8")
    assert _outcome(parse_dictionary, value) == _outcome(_http_sf, value)


@pytest.mark.timeout(300)
@PROPERTY
@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=60))
def test_same_outcome_on_arbitrary_text(field: str) -> None:
    """Arbitrary text: whatever the fast path accepts, http_sf reads the same."""
    value = field.encode("latin-1")
    fast = _fast(value)
    if fast is not None:
        assert fast == _http_sf(value)


def test_the_gateways_own_headers_take_the_fast_path() -> None:
    """What sign_request emits (one label, the default components) is parsed without http_sf."""
    signed = sign_request(
        "POST", "https://127.0.0.1/v1/citizens/verify", {}, b"{}", "client-a", "secret"
    )
    for name in ("Signature-Input", "Signature", "Content-Digest"):
        value = signed[name].encode("ascii")
        assert _fast(value) is not None, name
        assert _fast(value) == _http_sf(value)
