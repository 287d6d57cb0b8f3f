"""What the request path needs of an audit log, and the null one installed when auditing is off.

With ``[audit] enabled = false`` the app holds a :class:`NullAuditLog` under
``AUDIT_LOG`` (X-Road's ``NullLogManager``): the same interface, records
nothing, so no route or worker asks per request whether auditing is on.
:class:`RecordFields` names ``append``'s arguments once for both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol, Required, TypedDict, Unpack

from gateway.audit.config import AuditConfig


class RecordFields(TypedDict, total=False):
    """The keyword arguments of ``append``: what one record says.

    Bodies are digested and ids digested and masked by the audit log; a digest given
    stands for a body not given."""

    kind: Required[str]
    operation: Required[str]
    outcome: Required[str]
    client_id: str | None
    status: int | None
    request_id: str | None
    request_body: bytes | None
    response_body: bytes | None
    request_digest: str | None
    response_digest: str | None
    id_numbers: Iterable[str]
    detail: dict[str, Any] | None


class AuditTrail(Protocol):
    """The part of an audit log the request path and workers use
    (:class:`gateway.audit.log.AuditLog`, its writer, or :class:`NullAuditLog`)."""

    @property
    def config(self) -> AuditConfig: ...

    def subject_digest(self, id_number: str) -> str: ...

    async def append(self, **fields: Unpack[RecordFields]) -> None: ...


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

    async def append(self, **_: Unpack[RecordFields]) -> None:
        """Nothing is recorded."""
