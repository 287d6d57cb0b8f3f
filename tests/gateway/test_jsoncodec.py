"""orjson where json was: the audit digest byte for byte, request bodies read alike (hypothesis).

The audit chain hashes :func:`canonical_json`; a chain written before orjson must
still verify, so its bytes are compared with the old ``json.dumps`` bytes on
generated records: every str (controls, surrogates, U+2028, emoji, Vietnamese),
ints beyond 64 bits, floats (which orjson formats differently), non-str keys,
tuples, deep nesting.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.jsoncodec import (
    _json_canonical,
    canonical_json,
    dumps_bytes,
    dumps_log_line,
    json_loads_body,
    loads_body,
)

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["Nguyễn Văn Đức", "\u2028\u2029", "\x00\x1f\x7f", "😀", "\ud800", '"\\/']),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.integers(),
    st.sampled_from([2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1]),
    st.floats(),
    st.sampled_from([1e16, 1e-7, 0.1, -0.0, 1.0, 5e-324, 1.7976931348623157e308]),
    texts,
)
keys = st.one_of(texts, st.integers(-5, 5), st.booleans(), st.none(), st.just(1.5))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(texts, inner, max_size=4),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=20,
)


def _outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", call(*args))
    except Exception as exc:  # the refusal is compared, by kind
        return ("refused", type(exc))


@PROPERTY
@given(values)
@example({"a": [1, {"b": "é"}], "A": None})
@example({"amount": 2**70})
@example({"x": 1e16})
@example([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
def test_canonical_json_is_byte_identical_to_the_old_serialisation(value: Any) -> None:
    """The audit digest input: json.dumps(sort_keys, compact)'s bytes, or the same error."""
    assert _outcome(canonical_json, value) == _outcome(_json_canonical, value)


def test_very_deep_values_are_still_written_by_json() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    assert canonical_json(deep) == _json_canonical(deep)


json_bodies = st.one_of(
    values.map(lambda v: _outcome(lambda: json.dumps(v, ensure_ascii=False)))
    .filter(lambda o: o[0] == "ok")
    .map(lambda o: o[1].encode("utf-8", "surrogatepass")),
    st.binary(max_size=30),
    st.sampled_from(
        [
            b"NaN",
            b"[Infinity]",
            b"1e400",
            b'{"n": 123456789012345678901234567890}',
            b'{"n": -9223372036854775809}',
            b'{"a": 1, "a": 2}',
            b'"\\ud800"',
            b"\xef\xbb\xbf{}",
            b" {} ",
            b"{}\n",
            b"[1,]",
            b"[" * 2000 + b"]" * 2000,
            b'{"name": "Nguy\\u1ec5n"}',
        ]
    ),
)


@PROPERTY
@given(json_bodies)
def test_request_bodies_are_read_as_json_reads_them(body: bytes) -> None:
    """Same value (and same types: 1, 1.0 and True differ), or both refuse."""
    ours, theirs = _outcome(loads_body, body), _outcome(json_loads_body, body)
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        assert repr(ours[1]) == repr(theirs[1])


@pytest.mark.parametrize(
    "value",
    [{"ho_ten": "Nguyễn Đức", "n": [1, 2.5, None, True]}, {"big": 2**70}, {1: "non-str key"}],
)
def test_response_and_log_bodies_read_back_unchanged(value: Any) -> None:
    """UTF-8 as it is (no \\u escapes), insertion order kept; json writes what orjson cannot."""
    body = dumps_bytes(value)
    assert "Đức".encode() in body or b"\\u" not in body
    assert json.loads(body) == json.loads(json.dumps(value))
    assert json.loads(dumps_log_line(value, default=repr)) == json.loads(json.dumps(value))
