"""RFC 9530 ``Content-Digest``: make one for a body, check one against a body.

The field is a structured-field dictionary of ``algorithm=:base64:`` members,
e.g. ``sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:``. We send
sha-256; we accept sha-256 and sha-512, check every member we know, and ignore
members naming an algorithm we do not (RFC 9530 §2), as long as at least one is
known.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import http_sf

from gateway.errors import InvalidValue

from .structured import parse_dictionary

DIGEST_ALGORITHMS: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda body: hashlib.sha256(body).digest(),
    "sha-512": lambda body: hashlib.sha512(body).digest(),
}


class ContentDigestError(InvalidValue):
    """The Content-Digest field is malformed, names no known algorithm, or does not match."""


def make_content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Content-Digest`` field value for ``body``."""
    try:
        digest = DIGEST_ALGORITHMS[algorithm](body)
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None
    return http_sf.ser({algorithm: (digest, {})})


def verify_content_digest(field_value: str, body: bytes) -> None:
    """Raise :class:`ContentDigestError` unless ``field_value`` is a correct digest of ``body``."""
    try:
        parsed = parse_dictionary(field_value.encode("ascii"))
    except (ValueError, UnicodeError) as exc:
        raise ContentDigestError("malformed Content-Digest") from exc
    checked = 0
    for algorithm, member in parsed.items():
        make = DIGEST_ALGORITHMS.get(algorithm)
        if make is None:
            continue
        value = member[0] if isinstance(member, tuple) else member
        if not isinstance(value, bytes):
            raise ContentDigestError(f"Content-Digest {algorithm} is not a byte sequence")
        if not hmac.compare_digest(value, make(body)):
            raise ContentDigestError(f"Content-Digest {algorithm} does not match the body")
        checked += 1
    if not checked:
        raise ContentDigestError("Content-Digest names no supported algorithm (sha-256, sha-512)")
