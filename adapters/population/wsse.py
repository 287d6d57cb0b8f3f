"""WS-Security for outgoing envelopes: UsernameToken, wsu:Timestamp and an X.509 signature.

Built from :class:`~adapters.population.config.WsSecuritySettings` with zeep's
WS-Security objects, composed in the order UsernameToken → Timestamp →
Signature so the signature covers the Body *and* the Timestamp. zeep signs
with SHA-1 unless told otherwise: this module always asks for RSA-SHA256 and
SHA-256 digests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

import xmlsec
from lxml import etree
from zeep.wsse import Compose, UsernameToken
from zeep.wsse.signature import MemorySignature
from zeep.wsse.utils import WSU, get_security_header

from adapters.population.config import WsSecuritySettings

WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


class EnvelopeSecurity(Protocol):
    """zeep's WS-Security plug-in shape: ``apply`` on the way out, ``verify`` on the way in."""

    def apply(
        self, envelope: etree._Element, headers: dict[str, str]
    ) -> tuple[etree._Element, dict[str, str]]: ...

    def verify(self, envelope: etree._Element) -> etree._Element: ...


def zulu(moment: dt.datetime) -> str:
    """``2024-05-01T08:00:00Z`` (seconds precision, UTC)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class SecurityTimestamp:
    """Adds ``wsu:Timestamp`` (Created, Expires = Created + ttl) to the Security header."""

    def __init__(self, ttl_seconds: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock

    def apply(
        self, envelope: etree._Element, headers: dict[str, str]
    ) -> tuple[etree._Element, dict[str, str]]:
        created = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        expires = created + dt.timedelta(seconds=self._ttl)
        security = get_security_header(envelope)  # type: ignore[no-untyped-call]
        security.append(WSU.Timestamp(WSU.Created(zulu(created)), WSU.Expires(zulu(expires))))
        return envelope, headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        return envelope


def build_ws_security(
    settings: WsSecuritySettings, clock: Callable[[], float]
) -> EnvelopeSecurity | None:
    """The composed WS-Security plug-in for ``settings``, or None when nothing is switched on.

    Key and certificate files are read here, once, at start-up.
    """
    parts: list[Any] = []
    token = settings.username_token
    if token is not None:
        password = token.password.get_secret_value() if token.password else ""
        parts.append(
            UsernameToken(  # type: ignore[no-untyped-call]
                token.username, password, use_digest=token.digest
            )
        )
    if settings.timestamp or settings.signing is not None:
        parts.append(SecurityTimestamp(settings.timestamp_ttl_seconds, clock))
    if settings.signing is not None:
        signing = settings.signing
        key_password = (
            signing.key_password.get_secret_value().encode() if signing.key_password else None
        )
        parts.append(
            MemorySignature(  # type: ignore[no-untyped-call]
                signing.key_file.read_bytes(),
                signing.cert_file.read_bytes(),
                key_password,
                signature_method=xmlsec.constants.TransformRsaSha256,
                digest_method=xmlsec.constants.TransformSha256,
            )
        )
    if not parts:
        return None
    composed: EnvelopeSecurity = Compose(parts)  # type: ignore[no-untyped-call]
    return composed
