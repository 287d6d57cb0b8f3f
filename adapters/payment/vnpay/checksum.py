"""``vnp_SecureHash``: HMAC-SHA512 as VNPay 2.1.0 publishes it.

- Pay URL, IPN and return: the ``vnp_*`` parameters except ``vnp_SecureHash`` and
  ``vnp_SecureHashType`` (and empty values), sorted by name, each name and value
  URL-encoded with spaces as ``+``, joined ``k=v&…``.
- ``querydr``: the values joined by ``|`` in a fixed order (request and reply).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote_plus

EXCLUDED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

QUERYDR_REQUEST_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERYDR_RESPONSE_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)
#: The day list *(inferred, shaped like querydr)*.
LIST_REQUEST_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransDate",
    "vnp_Page",
    "vnp_CreateDate",
    "vnp_IpAddr",
)


def canonical_query(params: Mapping[str, str]) -> str:
    """The signed string of a pay URL / IPN / return (also the pay URL's query string)."""
    pairs = sorted(
        (name, value)
        for name, value in params.items()
        if name.startswith("vnp_") and name not in EXCLUDED and value != ""
    )
    return "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in pairs)


def hmac_sha512(data: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def secure_hash(params: Mapping[str, str], secret: str) -> str:
    """``vnp_SecureHash`` of URL parameters."""
    return hmac_sha512(canonical_query(params), secret)


def verify_params(params: Mapping[str, str], secret: str) -> bool:
    """Whether the parameters' ``vnp_SecureHash`` matches (constant time, any hex case)."""
    given = params.get("vnp_SecureHash", "")
    expected = secure_hash(params, secret)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8"))


def piped(message: Mapping[str, object], fields: Sequence[str]) -> str:
    """The ``|``-joined values of ``fields`` (missing as empty) that querydr hashes."""
    return "|".join("" if message.get(name) is None else str(message.get(name)) for name in fields)


def piped_hash(message: Mapping[str, object], fields: Sequence[str], secret: str) -> str:
    return hmac_sha512(piped(message, fields), secret)


def verify_piped(message: Mapping[str, object], fields: Sequence[str], secret: str) -> bool:
    given = message.get("vnp_SecureHash")
    if not isinstance(given, str):
        return False
    expected = piped_hash(message, fields, secret)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8"))
