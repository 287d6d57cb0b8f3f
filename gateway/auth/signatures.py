"""RFC 9421 HTTP Message Signatures, the ``hmac-sha256`` profile the gateway's clients use.

A client signs with ``keyid`` = its client id and one of its secrets (the
secret's UTF-8 bytes are the HMAC key), covering at least ``@method``, the path
(``@path``, or ``@target-uri`` / ``@request-target`` which contain it) and, when
there is a body, ``content-digest`` (RFC 9530); ``created`` and ``nonce`` are
required parameters. :func:`verify_signed_request` checks all of that and
answers with the :class:`~gateway.auth.clients.ClientConfig` or raises
:class:`AuthenticationFailed` (a 401 ``Unauthorized``) whose ``type_name`` says
why:

``missing-signature``     no Signature / Signature-Input (or no label in both)
``unknown-client``        keyid names no client with signing secrets
``insufficient-coverage`` a required component or parameter is missing, or alg is not hmac-sha256
``stale-request``         created older than the window, in the future beyond the skew, expired,
                          or before this process began accepting (less the skew)
``bad-signature``         malformed fields, unresolvable components, or no secret verifies
``bad-digest``            the body does not match the signed Content-Digest (or it is absent)
``replayed-request``      the nonce was already used in the window

A digest mismatch is a 401 (not a 400): the body is not the one the client signed.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import http_sf
from http_sf.item import ser_item
from http_sf.parameters import ser_params

from gateway.auth.clients import ClientRegistry
from gateway.auth.config import ClientConfig
from gateway.problems import Unauthorized

from .digest import ContentDigestError, make_content_digest, verify_content_digest
from .nonces import NonceStore
from .structured import parse_dictionary

ALGORITHM = "hmac-sha256"
DEFAULT_COVERED = ("@method", "@authority", "@path", "@query")
PATH_COMPONENTS = frozenset({"@path", "@target-uri", "@request-target"})
MAX_NONCE_LENGTH = 128
_DEFAULT_PORTS = {"http": "80", "https": "443"}

#: One covered component: its name and its parameters, as in a structured-field inner list.
ComponentId = tuple[str, dict[str, Any]]


class AuthenticationFailed(Unauthorized):
    """A 401 whose ``type_name`` is the cause; ``client_id`` is set when the client is known."""

    def __init__(self, type_name: str, detail: str, *, client_id: str | None = None) -> None:
        super().__init__(detail, type_name=type_name)
        self.client_id = client_id


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers of a request: its target and its header fields (not the body)."""

    method: str
    scheme: str
    #: host[:port] as sent (the Host header); normalised by :meth:`normalized_authority`.
    authority: str
    #: The path as sent, percent-encoding untouched.
    path: str
    #: The query without ``?``; None when the target has none.
    query: str | None
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def from_url(
        cls, method: str, url: str, headers: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> SignedRequest:
        """Build from an absolute URL as the client sends it."""
        parts = urlsplit(url)
        return cls(
            method=method.upper(),
            scheme=parts.scheme.lower(),
            authority=parts.netloc.rpartition("@")[2],
            path=parts.path,
            query=parts.query if "?" in url.split("#", 1)[0] else None,
            headers=_header_pairs(headers),
        )

    def normalized_authority(self) -> str:
        """``@authority``: host lower-cased, default port dropped (RFC 9421 §2.2.3)."""
        authority = self.authority.lower()
        host, _, port = authority.rpartition(":")
        ipv6_without_port = host.startswith("[") and not host.endswith("]")
        if port == _DEFAULT_PORTS.get(self.scheme) and not ipv6_without_port:
            return host
        return authority

    def field(self, name: str) -> str | None:
        """All lines of a header field, trimmed and joined with ``", "``; None if absent."""
        return self._fields.get(name)

    @functools.cached_property
    def _fields(self) -> dict[str, str]:
        """Each field by its lower-cased name: the headers are read once, not once a field."""
        lines: dict[str, list[str]] = {}
        for k, v in self.headers:
            lines.setdefault(k.lower(), []).append(v.strip(" \t"))
        return {name: ", ".join(values) for name, values in lines.items()}


def _header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), str(v)) for k, v in items)


def _derived_value(request: SignedRequest, name: str, params: dict[str, Any]) -> str:
    path = request.path or "/"
    query_suffix = "" if request.query is None else "?" + request.query
    if name == "@query-param":
        wanted = params.get("name")
        values = [
            v for k, v in parse_qsl(request.query or "", keep_blank_values=True) if k == wanted
        ]
        if not isinstance(wanted, str) or len(values) != 1 or set(params) != {"name"}:
            raise ValueError("@query-param needs one name present once in the query")
        return quote(values[0], safe="*").replace("~", "%7E")
    if params:
        raise ValueError(f"unsupported parameters on {name}")
    match name:
        case "@method":
            return request.method
        case "@scheme":
            return request.scheme
        case "@authority":
            return request.normalized_authority()
        case "@path":
            return path
        case "@query":
            return "?" + (request.query or "")
        case "@request-target":
            return path + query_suffix
        case "@target-uri":
            return f"{request.scheme}://{request.normalized_authority()}{path}{query_suffix}"
    raise ValueError(f"unsupported derived component {name}")


def component_value(request: SignedRequest, component: ComponentId) -> str:
    """The value of one covered component; ValueError if it cannot be resolved."""
    name, params = component
    if name != name.lower():
        raise ValueError("component names are lower case")
    if name.startswith("@"):
        return _derived_value(request, name, params)
    if params:
        raise ValueError(f"unsupported parameters on field {name}")
    value = request.field(name)
    if value is None:
        raise ValueError(f"covered field {name} is absent")
    return value


@functools.lru_cache(maxsize=256)
def _cached_identifier(name: str, params: tuple[tuple[str, type, Any], ...]) -> str:
    return str(ser_item((name, {key: value for key, _, value in params})))


def _identifier(component: ComponentId) -> str:
    """A component identifier as serialized (``"@method"``, ``"@query-param";name="id"``).

    Clients cover the same few components on every request: each distinct one is
    serialized once (RFC 8941 serialization checks every character, a large part of
    verifying a signature).
    """
    name, params = component
    if not params:
        return _cached_identifier(name, ())
    try:
        # The type is part of the key: True == 1 == 1.0 in Python, not in RFC 8941.
        return _cached_identifier(name, tuple((k, type(v), v) for k, v in params.items()))
    except TypeError:  # an unhashable parameter value: serialize it every time
        return str(ser_item((name, dict(params))))


_PARAM_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_PARAM_STRING = re.compile(r"[\x20-\x7e]*")
_MAX_INTEGER = 999_999_999_999_999


def _serialize_params(params: Mapping[str, Any]) -> str:
    """``ser_params(params)``, written directly for string and integer values (the
    signature parameters' shape); ``http_sf`` writes anything else, and refuses."""
    out = []
    for key, value in params.items():
        kind = type(value)
        if type(key) is not str or not _PARAM_KEY.fullmatch(key):
            break
        if kind is int and -_MAX_INTEGER <= value <= _MAX_INTEGER:
            out.append(f";{key}={value}")
        elif kind is str and _PARAM_STRING.fullmatch(value):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f';{key}="{escaped}"')
        else:
            break
    else:
        return "".join(out)
    return str(ser_params(dict(params)))


def _serialize_signature_params(identifiers: Iterable[str], params: Mapping[str, Any]) -> str:
    return f"({' '.join(identifiers)}){_serialize_params(params)}"


def serialize_signature_params(components: Sequence[ComponentId], params: Mapping[str, Any]) -> str:
    """The ``@signature-params`` value: the inner list with its parameters (RFC 9421 §2.3)."""
    return _serialize_signature_params((_identifier(c) for c in components), params)


def signature_base(
    request: SignedRequest, components: Sequence[ComponentId], params: Mapping[str, Any]
) -> bytes:
    """The signature base (RFC 9421 §2.5); ValueError if a component cannot be used."""
    lines: list[str] = []
    identifiers: list[str] = []
    seen: set[str] = set()
    for component in components:
        identifier = _identifier(component)
        if identifier in seen:
            raise ValueError(f"component {identifier} covered twice")
        seen.add(identifier)
        identifiers.append(identifier)
        value = component_value(request, component)
        if "\n" in value or "\r" in value:
            raise ValueError(f"component {identifier} contains a line break")
        lines.append(f"{identifier}: {value}")
    lines.append(f'"@signature-params": {_serialize_signature_params(identifiers, params)}')
    base = "\n".join(lines)
    if not base.isascii():
        raise ValueError("signature base is not ASCII")
    return base.encode("ascii")


def _hmac(secret: bytes, base: bytes) -> bytes:
    return hmac.digest(secret, base, sha256)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key_id: str,
    secret: str | bytes,
    *,
    created: int | None = None,
    nonce: str | None = None,
    label: str = "sig1",
    covered: Sequence[str] = DEFAULT_COVERED,
) -> dict[str, str]:
    """``headers`` plus Content-Digest (when there is a body), Signature-Input and Signature."""
    signed = {k: v for k, v in headers.items() if k.lower() not in _SIGNING_FIELDS}
    components: list[ComponentId] = [(name, {}) for name in covered]
    if body:
        signed["Content-Digest"] = make_content_digest(body)
        if "content-digest" not in covered:
            components.append(("content-digest", {}))
    params: dict[str, Any] = {
        "created": int(time.time()) if created is None else created,
        "keyid": key_id,
        "alg": ALGORITHM,
        "nonce": secrets.token_urlsafe(16) if nonce is None else nonce,
    }
    request = SignedRequest.from_url(method, url, signed)
    key = secret.encode() if isinstance(secret, str) else secret
    signature = _hmac(key, signature_base(request, components, params))
    signed["Signature-Input"] = f"{label}={serialize_signature_params(components, params)}"
    signed["Signature"] = http_sf.ser({label: (signature, {})})
    return signed


_SIGNING_FIELDS = frozenset({"content-digest", "signature-input", "signature"})


@dataclass(frozen=True)
class _SignatureInput:
    label: str
    components: list[ComponentId]
    params: dict[str, Any]
    signature: bytes


def _parse_dictionary(value: str, field: str) -> dict[str, Any]:
    try:
        return parse_dictionary(value.encode("ascii"))
    except (ValueError, UnicodeError) as exc:
        raise AuthenticationFailed("bad-signature", f"malformed {field} field") from exc


def _select_signature(request: SignedRequest) -> _SignatureInput:
    input_field = request.field("signature-input")
    signature_field = request.field("signature")
    if input_field is None or signature_field is None:
        raise AuthenticationFailed("missing-signature", "the request carries no signature")
    inputs = _parse_dictionary(input_field, "Signature-Input")
    signatures = _parse_dictionary(signature_field, "Signature")
    for label, (members, params) in inputs.items():
        if label not in signatures:
            continue
        value = signatures[label][0]
        if not isinstance(members, list) or not isinstance(value, bytes):
            raise AuthenticationFailed("bad-signature", f"malformed signature {label}")
        components: list[ComponentId] = []
        for name, component_params in members:
            if not isinstance(name, str):
                raise AuthenticationFailed("bad-signature", "component names must be strings")
            components.append((name, dict(component_params)))
        return _SignatureInput(label, components, dict(params), value)
    raise AuthenticationFailed("missing-signature", "no signature label in both fields")


def _check_coverage(sig: _SignatureInput, body: bytes, client_id: str) -> tuple[int, str]:
    def refuse(detail: str) -> AuthenticationFailed:
        return AuthenticationFailed("insufficient-coverage", detail, client_id=client_id)

    alg = sig.params.get("alg", ALGORITHM)
    if alg != ALGORITHM:
        raise refuse(f"alg must be {ALGORITHM}")
    created = sig.params.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise refuse("the created parameter (an integer) is required")
    nonce = sig.params.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise refuse("the nonce parameter (a string) is required")
    if len(nonce) > MAX_NONCE_LENGTH:
        raise AuthenticationFailed("bad-signature", "nonce too long", client_id=client_id)
    plain = {name for name, params in sig.components if not params}
    if "@method" not in plain:
        raise refuse("@method must be covered")
    if not plain & PATH_COMPONENTS:
        raise refuse("@path must be covered")
    if body and "content-digest" not in plain:
        raise refuse("content-digest must be covered when there is a body")
    return created, nonce


def _check_time(
    sig: _SignatureInput, created: int, now: float, window: float, skew: float, client_id: str
) -> None:
    if created < now - window:
        raise AuthenticationFailed("stale-request", "the signature is too old", client_id=client_id)
    if created > now + skew:
        raise AuthenticationFailed(
            "stale-request", "the signature is created in the future", client_id=client_id
        )
    expires = sig.params.get("expires")
    if expires is not None and (not isinstance(expires, int) or expires < now - skew):
        raise AuthenticationFailed(
            "stale-request", "the signature has expired", client_id=client_id
        )


async def verify_signed_request(
    request: SignedRequest,
    body: bytes,
    *,
    clients: ClientRegistry,
    nonces: NonceStore,
    now: float,
    window: float = 300.0,
    future_skew: float = 5.0,
    not_before: float | None = None,
) -> ClientConfig:
    """The client that signed ``request``; :class:`AuthenticationFailed` if it is not proven.

    ``now`` is epoch seconds. The nonce is remembered only once everything else
    has verified, so unauthenticated traffic cannot fill the nonce store.
    ``not_before`` (epoch seconds): a signature ``created`` earlier is ``stale-request``
    even inside the window; the server passes the moment it began accepting less
    the skew allowance, because the nonces of an earlier process are forgotten.
    """
    sig = _select_signature(request)
    key_id = sig.params.get("keyid")
    if not isinstance(key_id, str):
        raise AuthenticationFailed("unknown-client", "the keyid parameter is missing")
    client, keys = clients.with_keys(key_id)
    if client is None or not keys:
        raise AuthenticationFailed("unknown-client", "no signing key for this keyid")
    created, nonce = _check_coverage(sig, body, client.id)
    _check_time(sig, created, now, window, future_skew, client.id)
    if not_before is not None and created < not_before:
        raise AuthenticationFailed(
            "stale-request",
            "the signature was created before this gateway (re)started: sign the request again",
            client_id=client.id,
        )
    try:
        base = signature_base(request, sig.components, sig.params)
    except ValueError as exc:
        raise AuthenticationFailed("bad-signature", str(exc), client_id=client.id) from exc
    # Check every key (no early exit) so timing does not reveal which one matched.
    matches = [hmac.compare_digest(_hmac(key, base), sig.signature) for key in keys]
    if not any(matches):
        raise AuthenticationFailed(
            "bad-signature", "the signature does not verify", client_id=client.id
        )
    digest_field = request.field("content-digest")
    if body or digest_field is not None:
        if digest_field is None:
            raise AuthenticationFailed(
                "bad-digest", "Content-Digest is required", client_id=client.id
            )
        try:
            verify_content_digest(digest_field, body)
        except ContentDigestError as exc:
            raise AuthenticationFailed("bad-digest", str(exc), client_id=client.id) from exc
    if not await nonces.remember(client.id, nonce, created + window):
        raise AuthenticationFailed(
            "replayed-request", "this nonce was already used", client_id=client.id
        )
    return client
