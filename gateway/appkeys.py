"""Typed application state: every ``web.AppKey`` of the gateway, each owned by one cleanup_ctx
(or set once by :func:`gateway.app.create_app`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from adapters.networks import Network
    from gateway.audit.null import AuditTrail
    from gateway.auth.clients import ClientRegistry
    from gateway.auth.keys import ServingState
    from gateway.businesses.service import BusinessService
    from gateway.citizens.service import CitizenService
    from gateway.config import Settings
    from gateway.payments.service import PaymentService
    from gateway.payments.webhooks import OutboxDispatcher
    from gateway.payments.worker import PendingPaymentPoller
    from gateway.security.null import SecurityObserver
    from gateway.store import Store

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]

# -- set by create_app ----------------------------------------------------------------------
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
#: The server's :class:`~gateway.auth.keys.ServingState`.
SERVING: web.AppKey[ServingState] = web.AppKey("serving")
#: The clients, swapped in place by a reload.
CLIENT_REGISTRY: web.AppKey[ClientRegistry] = web.AppKey("client_registry")
#: How long a request body may take to arrive (``[server] body_read_timeout_seconds``).
BODY_READ_TIMEOUT: web.AppKey[float] = web.AppKey("body_read_timeout")
#: Filled by the slices' cleanup_ctx entries, read by ``/readyz``.
READINESS_CHECKS: web.AppKey[dict[str, ReadinessCheck]] = web.AppKey("readiness_checks")

# -- core -------------------------------------------------------------------------------------
STORE: web.AppKey[Store] = web.AppKey("store")

# -- audit and security -------------------------------------------------------------------------
#: The audit log, or a null one when ``[audit] enabled = false``.
AUDIT_LOG: web.AppKey[AuditTrail] = web.AppKey("audit_log")
#: The audit middleware bound to the audit log (a pass-through when auditing is off).
AUDIT_MIDDLEWARE: web.AppKey[Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]] = (
    web.AppKey("audit_middleware")
)
#: The security monitor (installed by the security slice when the app starts; a null one
#: in an app built without that slice).
SECURITY_MONITOR: web.AppKey[SecurityObserver] = web.AppKey("security_monitor")

# -- citizens, businesses, payments -------------------------------------------------------------
CITIZEN_SERVICE: web.AppKey[CitizenService] = web.AppKey("citizen_service")
BUSINESS_SERVICE: web.AppKey[BusinessService] = web.AppKey("business_service")
PAYMENT_SERVICE: web.AppKey[PaymentService] = web.AppKey("payment_service")
PAYMENT_POLLER: web.AppKey[PendingPaymentPoller] = web.AppKey("payment_poller")
OUTBOX_DISPATCHER: web.AppKey[OutboxDispatcher] = web.AppKey("outbox_dispatcher")
#: The trusted proxies' networks (``[server] trusted_proxies``; absent or empty: none).
TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")
