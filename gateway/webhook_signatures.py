"""Standard Webhooks signatures, for every webhook the gateway sends or checks.

Signing follows the Standard Webhooks specification: the signed content is
``"{webhook-id}.{webhook-timestamp}.{body}"``, the signature is the base64
HMAC-SHA256 of it under the secret (``whsec_`` + base64 of the key bytes), sent
as ``webhook-signature: v1,<sig>``; during a secret rotation the message is
signed with both secrets, the signatures separated by a space, and a receiver
accepts any one it can verify.

Used by the payments outbox dispatcher (:mod:`gateway.payments.webhooks`), the
security alert sender (:mod:`gateway.security.alerts`) and the demo's receiver;
a leaf, so none of them pulls in the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from gateway.errors import InvalidValue

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


class WebhookVerificationError(InvalidValue):
    """A webhook's headers or signature do not verify."""


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def new_secret() -> str:
    """A fresh random webhook secret (24 bytes), for configuration and tests."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<sig>`` per secret, space-separated."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets_:
        digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    if not parts:
        raise ValueError("at least one webhook secret is needed to sign")
    return " ".join(parts)


def signed_headers(
    secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets_, msg_id, timestamp, body),
    }


def verify(
    secrets_: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> str:
    """Check a received webhook against any of ``secrets_``; returns its ``webhook-id``.

    Raises :class:`WebhookVerificationError` when a header is missing, the
    timestamp is outside ``tolerance`` of ``now``, or no signature matches.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split(" ")
    except (KeyError, ValueError) as exc:
        raise WebhookVerificationError("missing or malformed webhook headers") from exc
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        raise WebhookVerificationError("webhook timestamp outside the tolerance")
    candidates = [s.split(",", 1)[1] for s in offered if s.startswith("v1,")]
    for secret in secrets_:
        expected = sign([secret], msg_id, timestamp, body)[3:]
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise WebhookVerificationError("no webhook signature matches")
