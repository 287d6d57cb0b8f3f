"""``vnp_SecureHash``: HMAC-SHA512 over the string VNPay's own reference code builds.

The signed string of a pay URL, an IPN and a return
------------------------------------------------------
VNPay publishes its 2.1.0 integration as reference code in PHP (``vnpay_php``:
``vnpay_create_payment.php``, ``vnpay_ipn.php``, ``vnpay_return.php``), Java
(``ajaxServlet.java``, ``Config.hashAllFields``, ``vnpay_ipn.jsp``), .NET
(``VnPayLibrary.cs``) and Node.js (``vnpay_nodejs``). All of them:

- take the ``vnp_*`` parameters except ``vnp_SecureHash`` and ``vnp_SecureHashType``,
- sort them by name (byte / ordinal order; the names are ASCII),
- URL-encode each value (space as ``+``, upper-case hex, UTF-8 bytes),
- join them ``name=value`` with ``&``,
- and take the lower-case hex HMAC-SHA512 of that string with the hash secret.

Where they disagree:

============  ==========================  ===================  =====================
reference     characters left unescaped   empty values         parameters signed
============  ==========================  ===================  =====================
PHP           ``A-Z a-z 0-9 _ . -``       kept on verify       ``vnp_*`` only
              (``urlencode``: ``~`` →     (``vnp_X=``); the
              ``%7E``, ``*`` → ``%2A``)   create page adds
                                          optional ones only
                                          when set
Java          also ``*`` (``URLEncoder``) skipped              every parameter on
              ; values encoded as                              verify
              US-ASCII, so any non-ASCII
              letter becomes ``%3F``
.NET          also ``! * ( )``            skipped              ``vnp_*`` only
              (``WebUtility.UrlEncode``)
Node.js       also ``! ~ * ' ( )``        kept                 every parameter on
              (``encodeURIComponent``)                         verify
============  ==========================  ===================  =====================

(Older copies of the Java IPN page hash the values raw, not encoded at all; that
form is ambiguous, since a raw value may hold ``&`` and ``=``, and is not accepted.)

What this adapter does:

- **Sent** (the pay URL, and every message the sandbox signs): the PHP form, as in
  VNPay's documented sample URL: ``urlencode`` semantics (only ``[A-Za-z0-9_.-]``
  unescaped, space ``+``, ``~`` ``%7E``, upper-case hex), values normalised to
  Unicode NFC first, empty values left out (so PHP, Java and .NET agree on it),
  only ``vnp_*`` names. The pay URL's query string *is* that string, as in the
  references. ``vnp_OrderInfo`` is folded to ASCII letters, digits, space and
  ``.,:_-`` (:func:`~adapters.payment.vnpay.client.order_info_text`), which every
  reference encodes alike. The configured ``vnp_ReturnUrl`` goes as it is: keep
  ``~ * ! ( ) '`` and non-ASCII letters out of it, or a VNPay side that hashes like
  Java, .NET or Node.js computes another string.
- **Accepted** on an IPN or a return: a digest over the PHP, the Java, the .NET or
  the Node.js character set, each with the values as received or in NFC, and with
  empty values left out or kept. Every one of these strings decodes (``+`` → space,
  ``%XX`` → byte) back to the same parameters, up to NFC and to empty parameters,
  which mean nothing here (an empty value is read as absent), so accepting the
  union never lets one signature vouch for two different messages. A message with
  nothing to disagree on has one candidate string, hence one HMAC (at most 16).
  Not accepted: Java's US-ASCII ``%3F`` for non-ASCII letters (it maps many values
  to one string), lower-case hex (no reference writes it) and non-``vnp_*``
  parameters (never covered).

``querydr`` and the day list
----------------------------
The merchant API's JSON messages hash their values joined by ``|`` in a fixed order
(request and reply), without any URL encoding, as the references do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote_plus

EXCLUDED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
#: Text every reference leaves as it is.
_BARE = re.compile(r"[A-Za-z0-9_.\-]*")

#: Characters each reference leaves unescaped beyond ``A-Z a-z 0-9 _ . -``.
#: (Python's ``quote_plus`` also leaves ``~``; :func:`urlencode` escapes it back.)
PHP_EXTRA_SAFE = ""
JAVA_EXTRA_SAFE = "*"
DOTNET_EXTRA_SAFE = "!*()"
NODE_EXTRA_SAFE = "!~*'()"
_ACCEPTED_SAFE_SETS = (PHP_EXTRA_SAFE, JAVA_EXTRA_SAFE, DOTNET_EXTRA_SAFE, NODE_EXTRA_SAFE)

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


def urlencode(text: str, extra_safe: str = PHP_EXTRA_SAFE) -> str:
    """PHP's ``urlencode`` of ``text``'s UTF-8 bytes (or a reference's variant of it).

    Only ``[A-Za-z0-9_.-]`` (plus ``extra_safe``) stay as they are, space becomes
    ``+``, every other byte ``%XX`` in upper-case hex.
    """
    if _BARE.fullmatch(text):  # most vnp_* values: nothing to escape in any reference
        return text
    encoded = quote_plus(text, safe=extra_safe, encoding="utf-8", errors="strict")
    return encoded if "~" in extra_safe else encoded.replace("~", "%7E")


def _signed_pairs(params: Mapping[str, str], *, keep_empty: bool) -> list[tuple[str, str]]:
    return sorted(
        (name, value)
        for name, value in params.items()
        if name.startswith("vnp_") and name not in EXCLUDED and (keep_empty or value != "")
    )


def _nfc(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, unicodedata.normalize("NFC", value)) for name, value in pairs]


def _joined(
    pairs: Iterable[tuple[str, str]],
    extra_safe: str,
    memo: dict[tuple[str, str], str] | None = None,
) -> str:
    """``name=value&…`` encoded with one reference's character set (``memo`` caches)."""
    cache: dict[tuple[str, str], str] = {} if memo is None else memo

    def encoded(text: str) -> str:
        key = (text, extra_safe)
        if key not in cache:
            cache[key] = urlencode(text, extra_safe)
        return cache[key]

    return "&".join(f"{encoded(name)}={encoded(value)}" for name, value in pairs)


def canonical_query(params: Mapping[str, str]) -> str:
    """The string this adapter signs (also the pay URL's query string): see the module doc."""
    return _joined(_nfc(_signed_pairs(params, keep_empty=False)), PHP_EXTRA_SAFE)


def accepted_strings(params: Mapping[str, str]) -> list[str]:
    """Every signed string a reference implementation may have built for ``params``.

    The canonical one first; duplicates removed. ``UnicodeEncodeError`` for text that
    has no UTF-8 form (a lone surrogate), which no reference could have signed.
    """
    signed = _signed_pairs(params, keep_empty=True)
    chars = set("".join(name + value for name, value in signed))
    # Only the variants that can differ from the canonical string are built.
    empties = (False, True) if any(value == "" for _, value in signed) else (False,)
    in_nfc = _nfc(signed)
    forms = [in_nfc] if in_nfc == signed else [in_nfc, signed]
    safe_sets = [safe for safe in _ACCEPTED_SAFE_SETS if not safe or chars.intersection(safe)]
    memo: dict[tuple[str, str], str] = {}
    candidates: dict[str, None] = {}
    for keep_empty in empties:
        for form in forms:
            pairs = form if keep_empty else [(n, v) for n, v in form if v != ""]
            for extra_safe in safe_sets:
                candidates[_joined(pairs, extra_safe, memo)] = None
    return list(candidates)


def hmac_sha512(data: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def secure_hash(params: Mapping[str, str], secret: str) -> str:
    """``vnp_SecureHash`` of URL parameters (over :func:`canonical_query`)."""
    return hmac_sha512(canonical_query(params), secret)


def _given_hash(params: Mapping[str, str]) -> bytes | None:
    given = params.get("vnp_SecureHash", "")
    if not given.isascii():
        return None
    return given.lower().encode("ascii")


def verify_params(params: Mapping[str, str], secret: str) -> bool:
    """Whether ``vnp_SecureHash`` matches any form the references sign (constant time, any case)."""
    given = _given_hash(params)
    if given is None:
        return False
    try:
        candidates = accepted_strings(params)
    except UnicodeEncodeError:
        return False
    matched = False
    for data in candidates:
        expected = hmac_sha512(data, secret).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched


def verify_canonical(params: Mapping[str, str], secret: str) -> bool:
    """Whether ``vnp_SecureHash`` matches :func:`canonical_query` exactly (the sandbox's check)."""
    given = _given_hash(params)
    if given is None:
        return False
    try:
        expected = secure_hash(params, secret).encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


def piped(message: Mapping[str, object], fields: Sequence[str]) -> str:
    """The ``|``-joined values of ``fields`` (missing as empty) that querydr hashes."""
    return "|".join("" if message.get(name) is None else str(message.get(name)) for name in fields)


def piped_hash(message: Mapping[str, object], fields: Sequence[str], secret: str) -> str:
    return hmac_sha512(piped(message, fields), secret)


def verify_piped(message: Mapping[str, object], fields: Sequence[str], secret: str) -> bool:
    given = message.get("vnp_SecureHash")
    if not isinstance(given, str) or not given.isascii():
        return False
    expected = piped_hash(message, fields, secret)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii"))
