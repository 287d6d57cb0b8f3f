"""Structured-field dictionaries (RFC 8941) for the signature headers, with a fast path.

``Signature-Input``, ``Signature`` and ``Content-Digest`` almost always come in one
shape: one member, either a byte sequence (``sig1=:…:``, ``sha-256=:…:``) or an inner
list of plain strings with integer and string parameters
(``sig1=("@method" "@path");created=…;keyid="…";alg="…";nonce="…"``). That shape is
matched by one regular expression and built directly; anything else (several members,
other item types, escapes, odd whitespace, non-canonical base64, a parameter given
twice) goes to ``http_sf``, the authority. tests/gateway/test_auth_structured.py proves
the two agree on generated headers.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import http_sf

_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_INTEGER = r"-?[0-9]{1,15}"
_MEMBER = re.compile(
    rf"({_KEY})=(?::([A-Za-z0-9+/]*={{0,2}}):"
    rf"|\(((?:{_STRING}(?: {_STRING})*)?)\)((?:;{_KEY}=(?:{_STRING}|{_INTEGER}))*))"
)
_PARAMETER = re.compile(rf";({_KEY})=(?:\"([^\"]*)\"|({_INTEGER}))")


def _fast(value: bytes) -> dict[str, Any] | None:
    """The dictionary when ``value`` is in the common one-member shape, else None."""
    match = _MEMBER.fullmatch(value.decode("latin-1"))
    if match is None:
        return None
    key, encoded, members, parameters = match.groups()
    if encoded is not None:
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return None
        if base64.b64encode(decoded).decode("ascii") != encoded:
            return None  # non-canonical: http_sf's reading is the one that counts
        return {key: (decoded, {})}
    components: list[tuple[str, dict[str, Any]]] = (
        [(name, {}) for name in members[1:-1].split('" "')] if members else []
    )
    params: dict[str, Any] = {}
    for param in _PARAMETER.finditer(parameters):
        name, text, number = param.groups()
        if name in params:
            return None  # given twice: leave the rule to http_sf
        params[name] = text if number is None else int(number)
    return {key: (components, params)}


def parse_dictionary(value: bytes) -> dict[str, Any]:
    """``value`` parsed as an RFC 8941 dictionary; ValueError if it is not one."""
    fast = _fast(value)
    if fast is not None:
        return fast
    parsed = http_sf.parse(value, tltype="dictionary")
    if not isinstance(parsed, dict):  # pragma: no cover - tltype guarantees a dict
        raise ValueError("not a dictionary")
    return parsed
