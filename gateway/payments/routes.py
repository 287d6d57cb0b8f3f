"""``POST /v1/payments``, ``GET /v1/payments/{payment_id}``, ``POST /v1/payments/{id}/cancel``.

``POST /v1/payments`` requires an ``Idempotency-Key`` header: missing → 428
``idempotency-key-required``; malformed → 400 ``malformed-idempotency-key``; the
same key with another body → 422 ``idempotency-key-reused``. The same key and
body answer the same payment again (``Idempotent-Replayed: true``), also after a
restart. A client sees only its own payments (anyone else's is 404).
"""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import PAYMENT_SERVICE
from gateway.auth.forwarded import client_address
from gateway.auth.keys import CLIENT
from gateway.auth.middleware import parse_json_body
from gateway.payments.requests import idempotency_key_of, parse_payment_request
from gateway.payments.service import PaymentService, payment_to_json
from gateway.problems import ValidationFailed, json_response

routes = web.RouteTableDef()


def service_of(request: web.Request) -> PaymentService:
    """The payment service (with payments off, these routes are not wired to it:
    :func:`gateway.payments.runtime.payments_slice`)."""
    return request.app[PAYMENT_SERVICE]


@routes.post("/v1/payments", name="payments.create")
async def create_payment(request: web.Request) -> web.Response:
    """Create a payment for a dossier's fees; answers where to send the payer."""
    service = service_of(request)
    key = idempotency_key_of(request.headers.get("Idempotency-Key"))
    client = request[CLIENT]
    body = await parse_json_body(request)
    payment_request = parse_payment_request(
        body,
        return_url_prefixes=client.return_url_prefixes,
        providers=service.providers.names(),
    )
    result = await service.create(
        client, key, payment_request, client_ip=client_address(request) or "127.0.0.1"
    )
    headers = {"Location": f"/v1/payments/{result.payment.id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(payment_to_json(result.payment), status=201, headers=headers)


#: The spellings of a boolean query parameter (``gateway/openapi.json`` lists the same).
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _flag(value: str | None, name: str) -> bool:
    """A boolean query parameter: absent is false; an unlisted spelling is 422 naming it."""
    if value is None:
        return False
    if value not in _FLAGS:
        raise ValidationFailed([{"field": name, "message": "must be one of: " + ", ".join(_FLAGS)}])
    return _FLAGS[value]


@routes.get("/v1/payments/{payment_id}", name="payments.read")
async def read_payment(request: web.Request) -> web.Response:
    """The payment's current state; ``?refresh=true`` asks the provider first."""
    refresh = _flag(request.query.get("refresh"), "refresh")
    payment = await service_of(request).get(
        request[CLIENT], request.match_info["payment_id"], refresh=refresh
    )
    return json_response(payment_to_json(payment))


@routes.post("/v1/payments/{payment_id}/cancel", name="payments.cancel")
async def cancel_payment(request: web.Request) -> web.Response:
    """Cancel a payment that is not final yet (409 ``payment-not-cancellable`` otherwise)."""
    payment = await service_of(request).cancel(request[CLIENT], request.match_info["payment_id"])
    return json_response(payment_to_json(payment))
