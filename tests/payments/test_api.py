"""The inbound payment API: idempotency, validation, ownership and cancellation rules."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

from gateway.http.ops import load_openapi
from tests.payments.conftest import PAYER, PaymentHarness, payment_body, wait_status


def _schema(name: str) -> dict[str, Any]:
    doc = load_openapi()
    components: Any = doc["components"]
    return {**components["schemas"][name], "components": components}


async def test_same_key_same_body_same_answer(harness: PaymentHarness) -> None:
    """A retry with the same key and body answers the same payment, marked as replayed."""
    key = str(uuid.uuid4())
    s1, first, h1 = await harness.create(key=key)
    s2, second, h2 = await harness.create(key=key)
    assert (s1, s2) == (201, 201)
    assert first == second
    assert "Idempotent-Replayed" not in h1
    assert h2["Idempotent-Replayed"] == "true"
    jsonschema.validate(first, _schema("Payment"))


async def test_same_key_other_body_is_422(harness: PaymentHarness) -> None:
    """The same key with another body is refused (422 idempotency-key-reused)."""
    key = str(uuid.uuid4())
    await harness.create(key=key)
    status, problem, _ = await harness.create(key=key, dossier_code="OTHER-DOSSIER")
    assert status == 422
    assert problem["type"].endswith("/idempotency-key-reused")


async def test_idempotency_survives_a_restart(harness: PaymentHarness) -> None:
    """Another gateway process on the same store answers the same payment for the same key."""
    key = str(uuid.uuid4())
    _, first, _ = await harness.create(key=key)
    other = await harness.start_another_gateway()
    status, again, headers = await other.call(
        "POST",
        "/v1/payments",
        payment_body(provider="dvcqg"),
        headers={"Idempotency-Key": key},
    )
    assert status == 201
    assert again == first
    assert ("Idempotent-Replayed", "true") in list(headers.items())  # type: ignore[union-attr, unused-ignore]


async def test_missing_idempotency_key_is_428(harness: PaymentHarness) -> None:
    """Without Idempotency-Key nothing is created: 428 idempotency-key-required."""
    status, problem, _ = await harness.gateway.call("POST", "/v1/payments", payment_body())
    assert status == 428
    assert problem["type"].endswith("/idempotency-key-required")
    jsonschema.validate(problem, _schema("Problem"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"fee_lines": [{"kind": "fee", "code": "A", "name": "A", "amount": "1000"}]},
            "fee_lines.0.amount",
        ),
        (
            {"fee_lines": [{"kind": "fee", "code": "A", "name": "A", "amount": 0}]},
            "fee_lines.0.amount",
        ),
        (
            {"fee_lines": [{"kind": "fee", "code": "A", "name": "A", "amount": 10.5}]},
            "fee_lines.0.amount",
        ),
        (
            {"fee_lines": [{"kind": "tax", "code": "A", "name": "A", "amount": 1}]},
            "fee_lines.0.kind",
        ),
        ({"fee_lines": []}, "fee_lines"),
        ({"payer": {"full_name": PAYER["full_name"], "id_number": "12345"}}, "payer.id_number"),
        ({"payer": {"id_number": PAYER["id_number"]}}, "payer.full_name"),
        ({"return_url": "https://evil.example/steal"}, "return_url"),
        ({"provider": "momo"}, "provider"),
        ({"dossier_code": ""}, "dossier_code"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_bodies_name_the_field(
    harness: PaymentHarness, change: dict[str, Any], field: str
) -> None:
    """Each invalid field is a 422 naming it, without echoing the payer's data."""
    body = payment_body(**change)
    status, problem, _ = await harness.gateway.call(
        "POST", "/v1/payments", body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert status == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert PAYER["id_number"] not in str(problem)
    assert PAYER["full_name"] not in str(problem)


async def test_total_is_the_sum_of_the_lines(harness: PaymentHarness) -> None:
    """The amount billed is the sum of the fee lines."""
    lines = [
        {"kind": "fee", "code": "A", "name": "A", "amount": 12345},
        {"kind": "charge", "code": "B", "name": "B", "amount": 55},
    ]
    payment = await harness.created(fee_lines=lines)
    assert payment["amount"] == 12400


async def test_another_clients_payment_is_404(harness: PaymentHarness) -> None:
    """A client cannot read or cancel another client's payment."""
    payment = await harness.created()
    path = f"/v1/payments/{payment['payment_id']}"
    s1, p1, _ = await harness.gateway.call("GET", path, client="portal-demo")
    s2, _, _ = await harness.gateway.call("POST", path + "/cancel", client="portal-demo")
    assert (s1, s2) == (404, 404)
    assert p1["type"].endswith("/payment-not-found")


async def test_cancel_while_pending_then_never_again(harness: PaymentHarness) -> None:
    """Cancel works once on an open payment (payment.cancelled sent); then 409."""
    payment = await harness.created()
    path = f"/v1/payments/{payment['payment_id']}/cancel"
    s1, cancelled, _ = await harness.gateway.call("POST", path)
    s2, problem, _ = await harness.gateway.call("POST", path)
    assert (s1, s2) == (200, 409)
    assert cancelled["status"] == "cancelled"
    assert problem["payment_status"] == "cancelled"


async def test_cancel_after_paid_is_409(harness: PaymentHarness) -> None:
    """A paid payment cannot be cancelled."""
    payment = await harness.created()
    await harness.pay(payment)
    await wait_status(harness, payment["payment_id"], "paid")
    status, problem, _ = await harness.gateway.call(
        "POST", f"/v1/payments/{payment['payment_id']}/cancel"
    )
    assert status == 409
    assert problem["type"].endswith("/payment-not-cancellable")


async def test_cancel_finds_a_payment_already_paid(harness: PaymentHarness) -> None:
    """Paid at the provider but not yet told: cancel asks first and refuses (409, paid)."""
    await harness.misbehave("dvcqg", never_send=True)
    payment = await harness.created()
    await harness.pay(payment)
    status, problem, _ = await harness.gateway.call(
        "POST", f"/v1/payments/{payment['payment_id']}/cancel"
    )
    assert status == 409
    assert problem["payment_status"] == "paid"


async def test_unknown_provider_callback_is_404(harness: PaymentHarness) -> None:
    """A callback path for a provider that is not configured is a 404 problem."""
    async with harness.session.get(harness.gateway.url + "/callbacks/momo") as r:
        assert r.status == 404
        assert r.content_type == "application/problem+json"
