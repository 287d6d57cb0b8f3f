"""Hostile and random input at every endpoint: always a precise 4xx (or the provider's own
answer), never a 500, never a hang.

A seeded generator builds random JSON documents (nested, odd types, huge numbers, strange
strings, the right keys with the wrong values) and random paths and query strings; the
same seed gives the same run, so a failure is reproducible.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
from typing import Any
from urllib.parse import quote, urlencode

from tests.support.gateway import Gateway

SEED = 20261128
ROUNDS = 60

KEYS = {
    "/v1/citizens/verify": [
        "id_number",
        "full_name",
        "birth_date",
        "gender",
        "dossier_code",
        "purpose",
        "agency_code",
        "procedure_code",
        "officer_id",
    ],
    "/v1/citizens/lookup": [
        "id_number",
        "agency_code",
        "procedure_code",
        "officer_id",
        "purpose",
        "dossier_code",
    ],
    "/v1/payments": [
        "dossier_code",
        "procedure_code",
        "agency_code",
        "fee_lines",
        "payer",
        "return_url",
        "provider",
        "kind",
        "code",
        "name",
        "amount",
        "full_name",
        "id_number",
    ],
}
NASTY_STRINGS = [
    "",
    " ",
    "\u0000",
    "\ud7ff",
    "\u202e",
    "💥",
    "Nguyễn\u0301\u0301\u0301",
    "0" * 12,
    "092090001234",
    "1990-02-30",
    "9999-99-99",
    "<x/>",
    "'; DROP TABLE payments; --",
    "../../etc/passwd",
    "%00",
    "a" * 10_000,
    "\\",
    '"',
    "1e309",
    "NaN",
    "-1",
]


def _value(rng: random.Random, keys: list[str], depth: int = 0) -> Any:
    pick = rng.randrange(10 if depth < 3 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 1, 2**63, -(2**70), 10**30, 150000])
    if pick == 3:
        return rng.choice([0.5, -1e308, 1e-320, 150000.0])
    if pick == 4:
        return rng.choice(NASTY_STRINGS)
    if pick == 5:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(40)))
    if pick in (6, 7):
        return [_value(rng, keys, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice([*keys, "x", ""]): _value(rng, keys, depth + 1) for _ in range(rng.randrange(6))
    }


def _document(rng: random.Random, keys: list[str]) -> Any:
    doc = _value(rng, keys)
    if rng.random() < 0.6:  # mostly objects with the right keys, so validation goes deep
        doc = {key: _value(rng, keys, 1) for key in keys if rng.random() < 0.8}
    return doc


async def _check(gateway: Gateway, method: str, path: str, body: Any = None, **kw: Any) -> None:
    status, answer, headers = await asyncio.wait_for(
        gateway.call(method, path, body, **kw), timeout=10
    )
    assert status < 500 or status in (502, 503, 504), (method, path, status, answer)
    if status >= 400:
        assert headers["Content-Type"].startswith("application/problem+json"), (path, status)
        assert answer["status"] == status


async def test_random_json_bodies_never_cause_a_server_error(gateway: Gateway) -> None:
    """Hundreds of random documents at each JSON endpoint: 4xx problems, never a 500."""
    rng = random.Random(SEED)
    for _ in range(ROUNDS):
        for path, keys in KEYS.items():
            doc = _document(rng, keys)
            headers = {"Idempotency-Key": "".join(rng.choices(string.ascii_letters, k=12))}
            await _check(gateway, "POST", path, doc, headers=headers)


async def test_random_bytes_and_wrong_content_never_cause_a_server_error(gateway: Gateway) -> None:
    """Bytes that are not JSON, or JSON in odd encodings, get 400s, never a 500."""
    rng = random.Random(SEED + 1)
    for _ in range(ROUNDS):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        for path in KEYS:
            await _check(
                gateway, "POST", path, raw=raw, headers={"Idempotency-Key": "fuzz-raw-key"}
            )
    for raw in (json.dumps({"id_number": "x"}).encode("utf-16"), b"\xef\xbb\xbf{}", b"{" * 100):
        await _check(gateway, "POST", "/v1/citizens/verify", raw=raw)


async def test_random_paths_and_identifiers_never_cause_a_server_error(gateway: Gateway) -> None:
    """Odd tax codes, payment ids and unknown routes: 4xx problems."""
    rng = random.Random(SEED + 2)
    short = [s for s in NASTY_STRINGS if len(s) < 1000]
    for _ in range(ROUNDS):
        token = quote(rng.choice(short) or "x", safe="")
        await _check(gateway, "GET", f"/v1/businesses/{token}")
        name = rng.choice(["agency_code", "procedure_code", "x"])
        await _check(gateway, "GET", f"/v1/businesses/1801234562?{name}={token}&{name}=1")
        await _check(gateway, "GET", f"/v1/businesses/1801234562?{name}={token}")
        await _check(gateway, "GET", f"/v1/payments/{token}")
        await _check(gateway, "POST", f"/v1/payments/{token}/cancel", {})
        await _check(gateway, "GET", f"/v1/{token}")


async def test_an_oversized_request_line_is_refused_by_the_http_parser(gateway: Gateway) -> None:
    """A 10 KB path never reaches the app: aiohttp's parser answers 400 (plain text) at once."""
    status, _, _ = await asyncio.wait_for(
        gateway.call("GET", "/v1/businesses/" + "a" * 10_000, sign=False), timeout=5
    )
    assert status == 400


async def test_forged_callbacks_and_returns_never_cause_a_server_error(gateway: Gateway) -> None:
    """Random callbacks and payer returns get the provider's refusal or a 4xx, never a 500."""
    rng = random.Random(SEED + 3)
    for _ in range(ROUNDS):
        query = urlencode(
            {
                rng.choice(["vnp_TxnRef", "vnp_Amount", "vnp_SecureHash", "x"]): rng.choice(
                    NASTY_STRINGS[:-3]
                )
                for _ in range(rng.randrange(5))
            }
        )
        doc = _document(rng, ["MaThamChieu", "SoTien", "MaXacThuc", "MaLoi", "LoaiBanTin"])
        for provider in ("dvcqg", "vnpay", "nope"):
            status, _, _ = await gateway.call("GET", f"/callbacks/{provider}?{query}", sign=False)
            assert status < 500
            status, _, _ = await gateway.call("POST", f"/callbacks/{provider}", doc, sign=False)
            assert status < 500
            status, _, _ = await gateway.call("GET", f"/pay/return/{provider}?{query}", sign=False)
            assert status < 500
