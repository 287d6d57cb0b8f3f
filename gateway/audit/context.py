"""Leaving a request's context (who asked, for what, on whose behalf) for its audit record."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import AUDIT_LOG
from gateway.audit.middleware import AUDIT_CONTEXT
from gateway.citizens.context import RequestContext


def note_context(request: web.Request, context: RequestContext) -> None:
    """Put ``context`` on the request for the audit middleware (officer masked and digested
    with the audit log's keyed subject digest); nothing when no part was given. With
    auditing off the app holds a :class:`~gateway.audit.null.NullAuditLog`, and the
    pass-through audit middleware never reads it."""
    detail = context.audit_detail(request.app[AUDIT_LOG].subject_digest)
    if detail:
        request[AUDIT_CONTEXT] = detail
