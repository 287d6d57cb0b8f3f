"""VNPay's signed string, pinned from the published rules (expected strings written by hand).

The rules (VNPay's PHP reference, ``urlencode``): ``vnp_*`` names except
``vnp_SecureHash`` / ``vnp_SecureHashType``, empty values left out, sorted by name
in byte order, values in Unicode NFC, only ``[A-Za-z0-9_.-]`` left as they are,
space as ``+``, every other UTF-8 byte as ``%XX`` in upper-case hex, joined
``name=value`` with ``&``. Each expected string below was written from those rules,
byte by byte (``ễ`` is U+1EC5, UTF-8 ``E1 BB 85``), not produced by the adapter.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.guard import Unguarded
from adapters.payment.vnpay import checksum
from adapters.payment.vnpay.client import VnpayProvider
from tests.adapters.payment.conftest import PaymentPeer, make_order

SECRET = "VNPAYSANDBOXSECRETKEY0123456789"


def sign(data: str, secret: str = SECRET) -> str:
    """HMAC-SHA512 hex, computed here with the standard library, not with the adapter."""
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


#: (vnp_OrderInfo value, its encoded form by the rules)
VALUES = [
    ("a~b", "a%7Eb"),
    ("a*b", "a%2Ab"),
    ("O'Neil", "O%27Neil"),
    ("two words", "two+words"),
    ("1+1", "1%2B1"),
    ("a&b=c", "a%26b%3Dc"),
    ("http://127.0.0.1:8700/pay/return", "http%3A%2F%2F127.0.0.1%3A8700%2Fpay%2Freturn"),
    ("A-Z_a.z-09", "A-Z_a.z-09"),
    ("100%", "100%25"),
    ("(x)!", "%28x%29%21"),
    ("?#,;", "%3F%23%2C%3B"),
    ("line\nbreak", "line%0Abreak"),
    ("Nguyễn", "Nguy%E1%BB%85n"),  # NFC: ễ U+1EC5
    ("Nguye\u0302\u0303n", "Nguy%E1%BB%85n"),  # NFD: e + U+0302 + U+0303, folded to NFC
    ("Lệ phí", "L%E1%BB%87+ph%C3%AD"),  # NFC: ệ U+1EC7, í U+00ED
    ("Le\u0323\u0302 phi\u0301", "L%E1%BB%87+ph%C3%AD"),  # NFD
    ("Thủy", "Th%E1%BB%A7y"),  # ủ U+1EE7
    ("Thu\u0309y", "Th%E1%BB%A7y"),  # NFD: u + U+0309
    ("Đồng", "%C4%90%E1%BB%93ng"),  # Đ U+0110 has no decomposition; ồ U+1ED3
]


@pytest.mark.parametrize(("value", "encoded"), VALUES)
def test_each_value_is_encoded_as_php_urlencode_of_its_nfc_form(value: str, encoded: str) -> None:
    """'~' '*' "'" space '+' '&' '=' '/' and Vietnamese in NFC or NFD encode by the rules."""
    assert checksum.canonical_query({"vnp_OrderInfo": value}) == f"vnp_OrderInfo={encoded}"


def test_a_whole_message_is_sorted_filtered_and_joined() -> None:
    """Sorted by name, hash fields, empty values and non-vnp_ names left out, '&'-joined."""
    params = {
        "vnp_TxnRef": "HS0001",
        "vnp_OrderInfo": "Le\u0323\u0302 phi\u0301 ~*' 1+1",
        "vnp_Amount": "15000000",
        "vnp_BankCode": "",
        "vnp_SecureHash": "ab12",
        "vnp_SecureHashType": "HmacSHA512",
        "utm_source": "mail",
    }
    assert checksum.canonical_query(params) == (
        "vnp_Amount=15000000&vnp_OrderInfo=L%E1%BB%87+ph%C3%AD+%7E%2A%27+1%2B1&vnp_TxnRef=HS0001"
    )


def test_names_sort_in_byte_order() -> None:
    """Upper case sorts before lower case, as PHP ksort and .NET's ordinal comparer do."""
    params = {"vnp_amount": "1", "vnp_Zone": "2", "vnp_OrderType": "3", "vnp_OrderInfo": "4"}
    assert checksum.canonical_query(params) == (
        "vnp_OrderInfo=4&vnp_OrderType=3&vnp_Zone=2&vnp_amount=1"
    )


def test_secure_hash_is_hmac_sha512_of_the_canonical_string() -> None:
    """vnp_SecureHash equals HMAC-SHA512 computed here (and by openssl) over the written string."""
    params = {"vnp_TxnRef": "HS0001", "vnp_Amount": "15000000", "vnp_OrderInfo": "Lệ phí ~*' 1+1"}
    written = (
        "vnp_Amount=15000000&vnp_OrderInfo=L%E1%BB%87+ph%C3%AD+%7E%2A%27+1%2B1&vnp_TxnRef=HS0001"
    )
    # printf '%s' "$written" | openssl dgst -sha512 -hmac "$SECRET"
    by_openssl = (
        "a5cd1373ab5a588a1f33fa5d050d23e69bf5a0297fe415d90a8fa75868cc5889"
        "dc964844b00598448ba6f336d11269d1034f0f225e8668422b9869e9d96ffa46"
    )
    assert sign(written) == by_openssl
    assert checksum.secure_hash(params, SECRET) == by_openssl


#: One value every reference encodes differently: PHP, Java, .NET and Node.js forms.
AWKWARD = "a*b(c)!~'"
REFERENCE_FORMS = {
    "php urlencode": "vnp_OrderInfo=a%2Ab%28c%29%21%7E%27",
    "java URLEncoder": "vnp_OrderInfo=a*b%28c%29%21%7E%27",
    "dotnet WebUtility.UrlEncode": "vnp_OrderInfo=a*b(c)!%7E%27",
    "node encodeURIComponent": "vnp_OrderInfo=a*b(c)!~'",
}


@pytest.mark.parametrize("form", sorted(REFERENCE_FORMS))
def test_verify_accepts_the_string_of_every_reference(form: str) -> None:
    """An IPN signed over the PHP, Java, .NET or Node.js string verifies; only PHP's is sent."""
    params = {"vnp_OrderInfo": AWKWARD, "vnp_SecureHash": sign(REFERENCE_FORMS[form])}
    assert checksum.verify_params(params, SECRET)
    assert checksum.verify_canonical(params, SECRET) is (form == "php urlencode")


def test_verify_accepts_empty_values_kept_as_php_verifies() -> None:
    """PHP's vnpay_ipn.php keeps an empty vnp_* value ('vnp_BankTranNo=') in what it hashes."""
    params = {"vnp_Amount": "100", "vnp_BankTranNo": ""}
    kept = {**params, "vnp_SecureHash": sign("vnp_Amount=100&vnp_BankTranNo=")}
    skipped = {**params, "vnp_SecureHash": sign("vnp_Amount=100")}
    assert checksum.verify_params(kept, SECRET)
    assert checksum.verify_params(skipped, SECRET)
    assert not checksum.verify_canonical(kept, SECRET)


def test_verify_accepts_a_signer_that_did_not_normalise() -> None:
    """A value signed in NFD as received (no reference normalises) verifies, as does its NFC."""
    nfd = "Nguye\u0302\u0303n"
    as_received = {"vnp_OrderInfo": nfd, "vnp_SecureHash": sign("vnp_OrderInfo=Nguye%CC%82%CC%83n")}
    in_nfc = {"vnp_OrderInfo": nfd, "vnp_SecureHash": sign("vnp_OrderInfo=Nguy%E1%BB%85n")}
    assert checksum.verify_params(as_received, SECRET)
    assert checksum.verify_params(in_nfc, SECRET)


@pytest.mark.parametrize(
    ("params", "signed"),
    [
        # Java's URLEncoder with US-ASCII turns ễ into '?': many values, one string.
        ({"vnp_OrderInfo": "Nguyễn"}, "vnp_OrderInfo=Nguy%3Fn"),
        # No reference writes lower-case hex.
        ({"vnp_OrderInfo": "a~b"}, "vnp_OrderInfo=a%7eb"),
        # Java and Node.js sign every parameter; only vnp_* ones are covered here.
        ({"utm": "1", "vnp_Amount": "100"}, "utm=1&vnp_Amount=100"),
        # A changed value.
        ({"vnp_Amount": "1000"}, "vnp_Amount=100"),
    ],
)
def test_verify_refuses_strings_no_accepted_form_builds(
    params: dict[str, str], signed: str
) -> None:
    """US-ASCII '?', lower-case hex, unsigned extra parameters and changed values do not verify."""
    assert not checksum.verify_params({**params, "vnp_SecureHash": sign(signed)}, SECRET)


def test_verify_refuses_missing_foreign_and_unencodable_hashes() -> None:
    """No hash, a non-ASCII hash and a lone surrogate in a value are refused, never raised."""
    assert not checksum.verify_params({"vnp_Amount": "100"}, SECRET)
    assert not checksum.verify_params({"vnp_Amount": "100", "vnp_SecureHash": "é" * 128}, SECRET)
    surrogate = {"vnp_OrderInfo": "\ud800", "vnp_SecureHash": "0" * 128}
    assert not checksum.verify_params(surrogate, SECRET)
    assert not checksum.verify_canonical(surrogate, SECRET)


def test_verify_accepts_upper_case_hex_digests() -> None:
    """VNPay's digest may arrive in upper case; it is compared case-insensitively."""
    params = {"vnp_Amount": "100", "vnp_SecureHash": sign("vnp_Amount=100").upper()}
    assert checksum.verify_params(params, SECRET)
    assert checksum.verify_canonical(params, SECRET)


def test_querydr_string_is_piped_without_url_encoding() -> None:
    """querydr hashes its values joined by '|' as they are: no NFC, no URL encoding."""
    message = {"vnp_RequestId": "r1", "vnp_Version": "2.1.0", "vnp_OrderInfo": "a b~*"}
    fields = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_OrderInfo")
    assert checksum.piped(message, fields) == "r1|2.1.0||a b~*"
    assert checksum.piped_hash(message, fields, SECRET) == sign("r1|2.1.0||a b~*")


AWKWARD_RETURN = "http://127.0.0.1:9/pay/return/vnpay?x=a~b*c'd e(f)!"


async def test_the_sandbox_takes_the_pay_url_only_in_the_canonical_form(
    vnpay_peer: PaymentPeer,
) -> None:
    """Over loopback: the pay URL (PHP form) opens; the same URL signed in Java's form gets 70."""
    cfg = vnpay_peer.provider._config.model_copy(update={"return_url": AWKWARD_RETURN})
    provider = VnpayProvider(cfg, vnpay_peer.http, Unguarded())
    order = make_order()
    created = await provider.create(order)
    assert (
        "&vnp_ReturnUrl=http%3A%2F%2F127.0.0.1%3A9%2Fpay%2Freturn%2Fvnpay"
        "%3Fx%3Da%7Eb%2Ac%27d+e%28f%29%21&"
    ) in created.pay_url
    async with vnpay_peer.http.get(created.pay_url) as resp:
        assert resp.status == 200
    base, canonical = created.pay_url.split("?", 1)
    canonical = canonical.rsplit("&vnp_SecureHash=", 1)[0]
    java = canonical.replace("%2A", "*")
    async with vnpay_peer.http.get(f"{base}?{java}&vnp_SecureHash={sign(java)}") as resp:
        status, page = resp.status, await resp.text()
    assert (status, "data-code='70'" in page) == (400, True)


async def test_the_sandbox_signs_returns_in_the_canonical_form(vnpay_peer: PaymentPeer) -> None:
    """Over loopback: the sandbox's return to an awkward vnp_ReturnUrl verifies as canonical."""
    cfg = vnpay_peer.provider._config.model_copy(update={"return_url": AWKWARD_RETURN})
    provider = VnpayProvider(cfg, vnpay_peer.http, Unguarded())
    order = make_order()
    async with vnpay_peer.http.get((await provider.create(order)).pay_url) as resp:
        assert resp.status == 200
    redirect = (await vnpay_peer.admin("pay", {"reference": order.reference}))["return_url"]
    assert redirect.startswith(AWKWARD_RETURN + "&vnp_Amount=")
    query = dict(parse_qsl(urlsplit(redirect).query, keep_blank_values=True))
    assert checksum.verify_canonical(query, SECRET)
    assert provider.parse_callback("GET", query, b"").reference == order.reference
