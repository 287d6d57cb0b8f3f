"""JSON in and out on the hot path: orjson where it gives what ``json`` gives, ``json`` elsewhere.

* :func:`canonical_json`: the bytes the audit chain hashes and signs. orjson with
  sorted keys writes exactly what ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)`` writes for plain values (str keys; str, bool, None, ints of
  64 bits, lists, tuples, dicts); anything else (floats, which the two format
  differently, big ints, other types) is written by ``json`` as before, so every
  existing chain still verifies.
* :func:`loads_body`: a request body. orjson reads big integers as floats where
  ``json`` keeps them exact, so a body with a run of 19 or more digits, and any
  body orjson refuses, is read by ``json`` (the authority on what is accepted).
* :func:`dumps_bytes`: a response body, UTF-8 as it is (never ``\\u``-escaped), keys
  in insertion order, compact; ``json`` for what orjson cannot write.

tests/gateway/test_jsoncodec.py proves each equal to the ``json`` path (hypothesis).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_MAX_DEPTH = 200  # orjson refuses deeper documents; json goes deeper
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether orjson writes ``value`` byte for byte as ``json`` does."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT64_MIN <= value <= _UINT64_MAX)
    if depth > _MAX_DEPTH:
        return False
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v, depth + 1) for v in value)
    return False


def _json_canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is hashed and signed (sorted keys, compact, UTF-8)."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a lone surrogate: json's own error is the one to raise
            pass
    return _json_canonical(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_loads_body(body: bytes) -> Any:
    """The old path: UTF-8 text read by ``json``, NaN and Infinity refused."""
    return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)


def loads_body(body: bytes) -> Any:
    """A request body as ``json`` reads it (ValueError, UnicodeDecodeError or RecursionError)."""
    if not _LONG_NUMBER.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # json decides what is refused, and why
    return json_loads_body(body)


def dumps_bytes(value: Any) -> bytes:
    """A response body: UTF-8, compact, keys in insertion order."""
    try:
        return orjson.dumps(value)
    except TypeError:  # non-str keys, big ints, other types: json writes them as before
        return json.dumps(value, ensure_ascii=False).encode("utf-8")


def dumps_log_line(value: Any, default: Any = None, **_: Any) -> str:
    """A log line (structlog's ``serializer`` hook): ``default`` writes what JSON cannot."""
    try:
        return orjson.dumps(value, default=default).decode("utf-8")
    except TypeError:
        return json.dumps(value, default=default, ensure_ascii=False)
