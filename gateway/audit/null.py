"""What the request path needs of an audit log, and the null one installed when auditing is off.

With ``[audit] enabled = false`` the app holds a :class:`NullAuditLog` under
``AUDIT_LOG`` (X-Road's ``NullLogManager``): the same interface, records
nothing, so no route or worker asks per request whether auditing is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol

from gateway.audit.config import AuditConfig


class AuditTrail(Protocol):
    """The part of :class:`gateway.audit.log.AuditLog` the request path and workers use."""

    @property
    def config(self) -> AuditConfig: ...

    def subject_digest(self, id_number: str) -> str: ...

    async def append(
        self,
        *,
        kind: str,
        operation: str,
        outcome: str,
        client_id: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        request_body: bytes | None = None,
        response_body: bytes | None = None,
        request_digest: str | None = None,
        response_digest: str | None = None,
        id_numbers: Iterable[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> None: ...


class NullAuditLog:
    """An audit log that records nothing (auditing is off)."""

    def __init__(self, config: AuditConfig) -> None:
        self._config = config

    @property
    def config(self) -> AuditConfig:
        return self._config

    def subject_digest(self, id_number: str) -> str:
        """An unkeyed digest: with no audit log there is no subject key to match against."""
        return hashlib.sha256(id_number.encode()).hexdigest()

    async def append(self, **_: Any) -> None:
        """Nothing is recorded."""
