"""The payment flow inside the app: providers, service and workers, each in a cleanup_ctx.

:func:`payments_ctx` opens one HTTP session for the providers, one call guard
per provider, and the :class:`~gateway.payments.service.PaymentService`;
:func:`payment_workers_ctx` runs the outbox dispatcher and the pending-payment
poller as tasks and stops both (then waits for them) on shutdown; after each of
its rounds the poller also erases the personal data of payments past the
retention period (:mod:`gateway.payments.personal_data`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import structlog
from aiohttp import web

from adapters.http import make_session
from adapters.networks import Network, networks
from adapters.payment.base import PaymentProvider, PaymentProviders
from adapters.resilience import UpstreamGuard
from adapters.systems import SYSTEMS
from gateway.appkeys import (
    AUDIT_LOG,
    CLIENT_REGISTRY,
    OUTBOX_DISPATCHER,
    PAYMENT_POLLER,
    PAYMENT_SERVICE,
    READINESS_CHECKS,
    SETTINGS,
    STORE,
)
from gateway.audit.middleware import audit_webhook
from gateway.auth.config import WebhookTarget
from gateway.config import Settings
from gateway.http.ops import guard_readiness
from gateway.payments import callbacks, routes
from gateway.payments.ledger import PaymentLedger
from gateway.payments.metrics import PaymentGauges
from gateway.payments.outbox import OutboxEvent
from gateway.payments.personal_data import PersonalDataEraser, load_payer_digest
from gateway.payments.service import PaymentService
from gateway.payments.webhooks import OutboxDispatcher
from gateway.payments.worker import PendingPaymentPoller
from gateway.problems import NotFound
from gateway.wiring import Slice

_log = structlog.get_logger("payments.runtime")

#: How long shutdown waits for a worker's round in progress before cancelling it.
WORKER_STOP_TIMEOUT = 10.0


def payments_slice(settings: Settings) -> Slice:
    """The payment routes and callbacks, the providers and the workers.

    With ``[payments] enabled = false`` the same routes (same paths and names, so
    the same rights) answer 404 ``payments-disabled`` and nothing is opened.
    """
    table = [*routes.routes, *callbacks.routes]
    if not settings.payments.enabled:
        return Slice("payments", routes=[_disabled(r) for r in table])
    return Slice("payments", routes=table, cleanup_ctx=(payments_ctx, payment_workers_ctx))


async def _payments_disabled(request: web.Request) -> web.StreamResponse:
    raise NotFound("payments are not enabled on this gateway", type_name="payments-disabled")


def _disabled(route: web.AbstractRouteDef) -> web.RouteDef:
    assert isinstance(route, web.RouteDef)
    return web.RouteDef(route.method, route.path, _payments_disabled, route.kwargs)


async def payments_ctx(app: web.Application) -> AsyncIterator[None]:
    """Providers and the payment service."""
    section = app[SETTINGS].payments
    upstreams = app[SETTINGS].upstreams
    async with AsyncExitStack() as stack:
        providers: dict[str, PaymentProvider] = {}
        callback_sources: dict[str, tuple[Network, ...]] = {}
        for system in SYSTEMS:
            upstream = upstreams.section(system.name)
            if not system.payment or upstream.adapter is None:
                continue
            guard = UpstreamGuard(system.name, upstream.resilience)
            opened = system.adapter().open_client(upstream.adapter, guard)
            providers[system.name] = await stack.enter_async_context(opened)
            callback_sources[system.name] = networks(upstream.adapter.callback_sources)
            app[READINESS_CHECKS][system.name] = guard_readiness(guard)
        store = app[STORE]
        app[PAYMENT_SERVICE] = PaymentService(
            PaymentLedger(
                store,
                payer_digest=load_payer_digest(app[SETTINGS].audit),
                instance_id=app[SETTINGS].instance_id,
            ),
            PaymentProviders(providers, section.default_provider),
            expiry=dt.timedelta(seconds=section.expiry_seconds),
            clock=store.clock,
            callback_sources=callback_sources,
        )
        yield


async def payment_workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox dispatcher and the pending-payment poller, stopped cleanly on shutdown."""
    settings = app[SETTINGS]
    section = settings.payments
    store = app[STORE]
    service = app[PAYMENT_SERVICE]
    registry = app[CLIENT_REGISTRY]

    def target_of(client_id: str) -> WebhookTarget | None:
        client = registry.by_id(client_id)
        return client.webhook if client is not None else None

    audit_log = app[AUDIT_LOG]

    async def audit_attempt(event: OutboxEvent, outcome: str, status: int | None) -> None:
        await audit_webhook(
            audit_log,
            client_id=event.client_id,
            event_id=event.id,
            event_type=event.type,
            outcome=outcome,
            body=event.body.encode(),
            status=status,
        )

    session = make_session()
    dispatcher = OutboxDispatcher(
        store,
        target_of,
        session,
        config=section.webhooks,
        instance_id=f"{settings.instance_id}-{secrets.token_hex(4)}",
        on_attempt=audit_attempt,
    )
    gauges = PaymentGauges(store, service.ledger.outbox)
    eraser = PersonalDataEraser(
        store,
        dt.timedelta(days=section.personal_data_retention_days),
        digest=service.ledger.payer_digest,
        clock=store.clock,
    )

    async def after_round() -> None:
        await gauges.refresh()
        await eraser.sweep()

    poller = PendingPaymentPoller(
        service,
        service.ledger,
        section.polling,
        clock=store.clock,
        after_round=after_round,
    )
    app[OUTBOX_DISPATCHER] = dispatcher
    app[PAYMENT_POLLER] = poller
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(dispatcher.run_forever(stop), name="outbox-dispatcher"),
        asyncio.create_task(poller.run_forever(stop), name="payment-poller"),
    ]
    try:
        yield
    finally:
        stop.set()
        _, late = await asyncio.wait(tasks, timeout=WORKER_STOP_TIMEOUT)
        for task in late:
            _log.warning("payments.worker_stop_timeout", worker=task.get_name())
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
