"""The peer's side of WS-Security: check a UsernameToken, a wsu:Timestamp and an X.509 signature.

Used by the sandbox to play a strict NDXP peer. The signature check refuses
anything but RSA-SHA256 with SHA-256 digests, requires that the very Body and
Timestamp of this envelope are among the signed references (no signature
wrapping: each referenced id must occur exactly once), and verifies with the
trusted certificate, never with one the message carries.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import xmlsec
from lxml import etree

from adapters.population.wsse import DS_NS, RSA_SHA256, SHA256, WSSE_NS, WSU_NS

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_WSU_ID = f"{{{WSU_NS}}}Id"
_USERNAME_PROFILE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
_DIGEST_TYPE = f"{_USERNAME_PROFILE}#PasswordDigest"


class WsSecurityRefused(ValueError):
    """The envelope's WS-Security does not satisfy the peer. ``fault_code`` is the WSS fault."""

    def __init__(self, reason: str, fault_code: str) -> None:
        super().__init__(reason)
        self.fault_code = fault_code


def _security_header(envelope: etree._Element) -> etree._Element:
    security = envelope.find(f"{{{SOAP_ENV_NS}}}Header/{{{WSSE_NS}}}Security")
    if security is None:
        raise WsSecurityRefused("no wsse:Security header", "wsse:InvalidSecurity")
    return security


def check_username_token(envelope: etree._Element, username: str, password: str) -> None:
    """Refuse unless the UsernameToken carries ``username`` and ``password`` (text or digest)."""
    token = _security_header(envelope).find(f"{{{WSSE_NS}}}UsernameToken")
    if token is None:
        raise WsSecurityRefused("no UsernameToken", "wsse:FailedAuthentication")
    got_user = token.findtext(f"{{{WSSE_NS}}}Username") or ""
    pw = token.find(f"{{{WSSE_NS}}}Password")
    if pw is None or not hmac.compare_digest(got_user.encode(), username.encode()):
        raise WsSecurityRefused("UsernameToken refused", "wsse:FailedAuthentication")
    if pw.get("Type") == _DIGEST_TYPE:
        nonce = base64.b64decode(token.findtext(f"{{{WSSE_NS}}}Nonce") or "")
        created = token.findtext(f"{{{WSU_NS}}}Created") or ""
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324  # the WSS UsernameToken profile fixes SHA-1
        ).decode()
    else:
        expected = password
    if not hmac.compare_digest((pw.text or "").encode(), expected.encode()):
        raise WsSecurityRefused("UsernameToken refused", "wsse:FailedAuthentication")


def _parse_zulu(text: str | None) -> dt.datetime:
    if not text:
        raise WsSecurityRefused("wsu:Timestamp incomplete", "wsse:MessageExpired")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WsSecurityRefused("wsu:Timestamp unreadable", "wsse:MessageExpired") from None


def check_timestamp(envelope: etree._Element, *, now: float, max_skew_seconds: float) -> None:
    """Refuse unless a wsu:Timestamp exists and ``now`` is within Created..Expires (± skew)."""
    stamp = _security_header(envelope).find(f"{{{WSU_NS}}}Timestamp")
    if stamp is None:
        raise WsSecurityRefused("no wsu:Timestamp", "wsse:MessageExpired")
    created = _parse_zulu(stamp.findtext(f"{{{WSU_NS}}}Created")).timestamp()
    expires = _parse_zulu(stamp.findtext(f"{{{WSU_NS}}}Expires")).timestamp()
    if created - max_skew_seconds > now or expires + max_skew_seconds < now:
        raise WsSecurityRefused("wsu:Timestamp not current", "wsse:MessageExpired")


def _element_with_id(envelope: etree._Element, ref_id: str) -> etree._Element:
    found = [el for el in envelope.iter() if el.get(_WSU_ID) == ref_id]
    if len(found) != 1:
        raise WsSecurityRefused("signed reference missing or ambiguous", "wsse:FailedCheck")
    return found[0]


def check_signature(envelope: etree._Element, trusted_cert_pem: bytes) -> None:
    """Refuse unless Body and Timestamp are signed RSA-SHA256/SHA-256 by the trusted certificate."""
    security = _security_header(envelope)
    signature = security.find(f"{{{DS_NS}}}Signature")
    if signature is None:
        raise WsSecurityRefused("no ds:Signature", "wsse:FailedCheck")
    method = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}SignatureMethod")
    if method is None or method.get("Algorithm") != RSA_SHA256:
        raise WsSecurityRefused("signature method is not RSA-SHA256", "wsse:FailedCheck")
    references = signature.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    ctx = xmlsec.SignatureContext()
    signed_ids: set[str] = set()
    for ref in references:
        digest = ref.find(f"{{{DS_NS}}}DigestMethod")
        if digest is None or digest.get("Algorithm") != SHA256:
            raise WsSecurityRefused("digest method is not SHA-256", "wsse:FailedCheck")
        uri = ref.get("URI") or ""
        if not uri.startswith("#"):
            raise WsSecurityRefused("only same-document references", "wsse:FailedCheck")
        ctx.register_id(_element_with_id(envelope, uri[1:]), "Id", WSU_NS)
        signed_ids.add(uri[1:])
    body = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    stamp = security.find(f"{{{WSU_NS}}}Timestamp")
    for part, name in ((body, "Body"), (stamp, "Timestamp")):
        if part is None or part.get(_WSU_ID) not in signed_ids:
            raise WsSecurityRefused(f"the {name} is not signed", "wsse:FailedCheck")
    ctx.key = xmlsec.Key.from_memory(trusted_cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        ctx.verify(signature)
    except xmlsec.Error:
        raise WsSecurityRefused("signature does not verify", "wsse:FailedCheck") from None
