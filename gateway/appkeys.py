"""Typed application state: every long-lived resource has one key, owned by one cleanup_ctx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.citizens.service import CitizenService
    from gateway.config import Settings

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CITIZEN_SERVICE: web.AppKey[CitizenService] = web.AppKey("citizen_service")
READINESS_CHECKS: web.AppKey[dict[str, ReadinessCheck]] = web.AppKey("readiness_checks")

if TYPE_CHECKING:
    from gateway.store import Store

STORE: web.AppKey[Store] = web.AppKey("store")

if TYPE_CHECKING:
    from gateway.audit import AuditLog
    from gateway.security import SecurityMonitor

AUDIT_LOG: web.AppKey[AuditLog] = web.AppKey("audit_log")
SECURITY_MONITOR: web.AppKey[SecurityMonitor] = web.AppKey("security_monitor")
