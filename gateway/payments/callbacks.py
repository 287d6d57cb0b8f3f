"""Provider callbacks (``/callbacks/{provider}``) and the payer's return (``/pay/return/{p}``).

Both are public paths: the provider's checksum, not client authentication,
proves where a callback comes from. Callbacks are answered in the provider's
own format whatever happens (a failed verification, an unknown payment, even
an internal error: the provider then delivers again). The payer's return never
decides a state: it redirects (303) to the client's return URL with
``payment_id`` and ``status``, or shows a small page.
"""

from __future__ import annotations

import html

import structlog
from aiohttp import web

from gateway.appkeys import SETTINGS
from gateway.auth.forwarded import client_address
from gateway.auth.middleware import read_body_limited
from gateway.payments.routes import service_of
from gateway.payments.service import PaymentService
from gateway.problems import NotFound

routes = web.RouteTableDef()
_log = structlog.get_logger("payments.callbacks")


def _provider_service(request: web.Request) -> tuple[PaymentService, str]:
    service = service_of(request)
    name = request.match_info["provider"]
    if service.provider(name) is None:
        raise NotFound("no such payment provider", type_name="unknown-provider")
    return service, name


def _first_values(request: web.Request) -> dict[str, str]:
    return {key: request.query.getone(key) for key in request.query}


async def _callback(request: web.Request) -> web.Response:
    service, name = _provider_service(request)
    body = b""
    if request.method == "POST":
        body = await read_body_limited(request, request.app[SETTINGS].server.max_body_bytes)
    try:
        answer = await service.handle_callback(
            name, request.method, _first_values(request), body, client_address(request)
        )
    except Exception:  # answer in the provider's format; it will deliver again
        _log.exception("payment.callback_failed", provider=name)
        provider = service.providers.get(name)
        answer = provider.answer_callback(None, outcome="error")
    return web.Response(
        status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type}
    )


@routes.get("/callbacks/{provider}", name="callbacks.get")
async def callback_get(request: web.Request) -> web.Response:
    """A provider's result notification sent as GET (VNPay's IPN)."""
    return await _callback(request)


@routes.post("/callbacks/{provider}", name="callbacks.post")
async def callback_post(request: web.Request) -> web.Response:
    """A provider's result notification sent as POST (the national payment platform)."""
    return await _callback(request)


@routes.get("/pay/return/{provider}", name="payments.payer_return")
async def payer_return(request: web.Request) -> web.Response:
    """The payer's browser, back from the provider: 303 to the client's page with the state."""
    service, name = _provider_service(request)
    outcome = await service.payer_return(name, _first_values(request), client_address(request))
    if outcome.redirect_to is not None:
        return web.Response(status=303, headers={"Location": outcome.redirect_to})
    status = str(outcome.payment.status) if outcome.payment is not None else "unknown"
    page = (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        "<title>lienthong: payment</title></head><body>"
        f"<p id='status' data-status='{html.escape(status)}'>{html.escape(outcome.message)}</p>"
        "</body></html>"
    )
    return web.Response(
        status=200 if outcome.payment is not None else 400,
        text=page,
        content_type="text/html",
        charset="utf-8",
    )
