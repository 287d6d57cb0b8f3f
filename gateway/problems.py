"""RFC 9457 problem details: every error the gateway answers is one of these.

Raise a :class:`Problem` (or a subclass) anywhere in a handler or middleware;
the problem middleware turns it into an ``application/problem+json`` response
carrying the request id. ``type`` is stable per kind of error: clients may
switch on it. ``detail`` never contains a personal id or name.

Every JSON answer of the gateway, problem or not, is UTF-8 as it is
(``ensure_ascii=False``: Vietnamese text arrives as ``Lệ phí``, not ``L\\u1ec7 ph\\u00ed``)
with ``charset=utf-8`` in its Content-Type: :func:`json_response` for the routes,
:meth:`Problem.to_response` for errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.errors import (
    DomainError,
    GatewayError,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    PaymentNotCancellable,
    PaymentNotFound,
)
from gateway.jsoncodec import dumps_bytes

PROBLEM_BASE = "https://lienthong.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``application/json; charset=utf-8``, ``data`` written by orjson (UTF-8, compact)."""
    return web.Response(
        body=dumps_bytes(data),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


class Problem(GatewayError):
    """A refusal answered as it is: ``status``, ``type_name``, ``title``, ``detail``, extras."""

    status: int = 500
    type_name: str = "internal-error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        type_name: str | None = None,
        title: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        if status is not None:
            self.status = status
        if type_name is not None:
            self.type_name = type_name
        if title is not None:
            self.title = title
        self.detail = detail
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.extra = extra

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.type_name

    def to_dict(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if request_id:
            body["request_id"] = request_id
        body.update(self.extra)
        return body

    def to_response(self, request_id: str | None = None) -> web.Response:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, int(self.retry_after + 0.999)))
        return web.Response(
            status=self.status,
            body=dumps_bytes(self.to_dict(request_id)),
            content_type=PROBLEM_CONTENT_TYPE,
            charset="utf-8",
            headers=headers,
        )


class BadRequest(Problem):
    status = 400
    type_name = "malformed-request"
    title = "Malformed request"


class Unauthorized(Problem):
    """401. ``type_name`` says why: unknown-client, bad-signature, stale-request, replayed…"""

    status = 401
    type_name = "unauthenticated"
    title = "Authentication failed"


class Forbidden(Problem):
    status = 403
    type_name = "forbidden"
    title = "Operation not allowed for this client"


class NotFound(Problem):
    status = 404
    type_name = "not-found"
    title = "Not found"


class MethodNotAllowed(Problem):
    status = 405
    type_name = "method-not-allowed"
    title = "Method not allowed"


class Conflict(Problem):
    status = 409
    type_name = "conflict"
    title = "Conflict"


class PayloadTooLarge(Problem):
    status = 413
    type_name = "payload-too-large"
    title = "Request body too large"


class UnsupportedMediaType(Problem):
    status = 415
    type_name = "unsupported-media-type"
    title = "Unsupported media type"


#: The ``field`` of an error about the body as a whole (not an object, say).
BODY_FIELD = "body"


class ValidationFailed(Problem):
    """422 with ``errors: [{"field": ..., "message": ...}]``."""

    status = 422
    type_name = "validation-failed"
    title = "The request is not valid"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        fields = ", ".join(e["field"] for e in errors)
        super().__init__(detail or f"invalid field(s): {fields}", errors=errors)
        self.errors = errors

    @classmethod
    def from_pydantic(
        cls, exc: ValidationError, *, messages: Mapping[tuple[str, ...], str] | None = None
    ) -> ValidationFailed:
        """The 422 for a pydantic error: each bad field by its dotted path, never its input.

        The whole body is :data:`BODY_FIELD`; ``messages`` replaces pydantic's message
        for the fields it names (by path, e.g. ``("fee_lines",)``).
        """
        errors: list[dict[str, str]] = []
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            path = tuple(str(part) for part in error["loc"])
            message = (messages or {}).get(path, error["msg"])
            errors.append({"field": ".".join(path) or BODY_FIELD, "message": message})
        return cls(errors)


class TooManyRequests(Problem):
    status = 429
    type_name = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(Problem):
    status = 503
    type_name = "unavailable"
    title = "Service unavailable"


#: The one table from a service's refusal to its answer (most specific class first wins).
#: The detail is the table's, never ``str(exc)``, so no id given by a caller is echoed.
DOMAIN_PROBLEMS: dict[type[DomainError], Callable[[Any], Problem]] = {
    InvalidRequest: lambda exc: ValidationFailed(exc.errors),
    PaymentNotFound: lambda exc: NotFound("no such payment", type_name="payment-not-found"),
    IdempotencyConflict: lambda exc: Problem(
        "this Idempotency-Key was used with another request body",
        status=422,
        type_name="idempotency-key-reused",
        title="Idempotency-Key reused with another body",
    ),
    InvalidTransition: lambda exc: Conflict(str(exc), payment_status=str(exc.status)),
    PaymentNotCancellable: lambda exc: Conflict(
        f"the payment is {exc.status} and can no longer be cancelled",
        type_name="payment-not-cancellable",
        payment_status=str(exc.status),
    ),
}


def problem_for(exc: DomainError) -> Problem:
    """The problem that answers ``exc``, by the nearest of its classes in :data:`DOMAIN_PROBLEMS`.

    A domain error with no entry is a bug of the table: a 500, as an unknown error.
    """
    for cls in type(exc).__mro__:
        build = DOMAIN_PROBLEMS.get(cls)
        if build is not None:
            return build(exc)
    return Problem("the gateway failed to handle this request")
