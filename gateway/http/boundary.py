"""The problem boundary: whatever a handler raised becomes ``application/problem+json``.

* :func:`problem_middleware` — converts whatever a handler raised into an
  ``application/problem+json`` answer: a :class:`~gateway.problems.Problem`
  as it is, a :class:`~gateway.errors.DomainError` by the one table
  (:data:`gateway.problems.DOMAIN_PROBLEMS`), an
  :class:`~adapters.errors.AdapterError`, an aiohttp HTTP exception, or (as a
  500, logged) anything else. Nothing escapes as an HTML error page. A
  client that disconnected mid-request is answered (to no one) and logged with
  status 499 and outcome ``client_disconnected``, never as a 500 with a traceback.
  A request failed by a national system is the access line's ``upstream_failed``
  (a warning, with the problem type; :mod:`gateway.http.outcome`): its exchange,
  outcome and fault code are in the line's ``upstream``.
  While the server drains (SIGTERM), every answer closes its connection.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from adapters.aliases import Handler
from adapters.errors import AdapterError, UpstreamUnavailable
from gateway.errors import DomainError
from gateway.http.access_log import CLIENT_CLOSED_REQUEST
from gateway.http.context import REQUEST_ID_KEY
from gateway.http.outcome import note_outcome
from gateway.problems import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    problem_for,
)
from gateway.security import events as security_events

_errlog = structlog.get_logger("gateway.error")


def problem_for_adapter_error(exc: AdapterError) -> Problem:
    retry_after = exc.retry_after if isinstance(exc, UpstreamUnavailable) else None
    extra: dict[str, Any] = {}
    if exc.upstream:
        extra["upstream"] = exc.upstream
    return Problem(
        exc.detail,
        status=exc.status,
        type_name=exc.problem_type,
        title=exc.title,
        retry_after=retry_after,
        **extra,
    )


def _problem_for_http_exception(exc: web.HTTPException) -> Problem:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("no such resource", type_name="no-such-route")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(
            f"{exc.method} is not allowed here",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body exceeds the configured limit")
    if isinstance(exc, web.HTTPUnsupportedMediaType):
        return UnsupportedMediaType(exc.text or None)
    if exc.status_code == 400:
        return BadRequest(exc.reason)
    return Problem(
        exc.reason, status=exc.status_code, type_name=f"http-{exc.status_code}", title=exc.reason
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.get(REQUEST_ID_KEY)
    try:
        return await handler(request)
    except Problem as problem:
        response = problem.to_response(rid)
        if getattr(problem, "close_connection", False):
            response.force_close()
        return response
    except DomainError as exc:
        return problem_for(exc).to_response(rid)
    except AdapterError as exc:
        security_events.report_adapter_error(exc)
        failure = {"problem_type": exc.problem_type, "detail": exc.detail}
        if not note_outcome("upstream_failed", warning=True, **failure):
            _errlog.warning(
                "upstream_failed",
                upstream=exc.upstream,
                upstream_operation=exc.operation,
                **failure,
            )
        return problem_for_adapter_error(exc).to_response(rid)
    except web.HTTPException as exc:
        if exc.status_code < 400:
            raise  # redirects are answers, not errors
        return _problem_for_http_exception(exc).to_response(rid)
    except ConnectionError:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            _errlog.exception("unhandled_error", path=request.path)
            return Problem("the gateway failed to handle this request").to_response(rid)
        # The client went away mid-request: nothing to answer, no traceback to log.
        response = Problem(
            "the client closed the connection",
            status=CLIENT_CLOSED_REQUEST,
            type_name="client-disconnected",
            title="Client closed request",
        ).to_response(rid)
        response.force_close()
        return response
    except Exception:
        _errlog.exception("unhandled_error", path=request.path)
        return Problem("the gateway failed to handle this request").to_response(rid)
