"""The gateway's exception tree: one root, four branches, converted at the problem boundary.

The adapters have their own tree (:mod:`adapters.errors`, ``AdapterError``); the
problem boundary answers those as 502/503/504. Everything the gateway itself
raises is a :class:`GatewayError`::

    GatewayError
    ├── Problem                    a request refused, answered as it is (gateway/problems.py)
    │   ├── BadRequest 400, Unauthorized 401, Forbidden 403, NotFound 404,
    │   │   MethodNotAllowed 405, Conflict 409, PayloadTooLarge 413,
    │   │   UnsupportedMediaType 415, ValidationFailed 422, TooManyRequests 429,
    │   │   ServiceUnavailable 503
    │   └── RequestTimeout 408, ClientDisconnected (auth/middleware.py),
    │       IdempotencyKeyRequired 428 (payments/requests.py), BusinessContextError 422
    ├── DomainError                a service refused; DOMAIN_PROBLEMS (gateway/problems.py),
    │   │                          the one table, says which problem answers it
    │   ├── InvalidRequest             422 validation-failed, ``errors`` names each field
    │   ├── PaymentNotFound            404 payment-not-found  (also a LookupError)
    │   ├── IdempotencyConflict        422 idempotency-key-reused
    │   └── InvalidTransition          409: the payment's state does not allow the move
    │       └── PaymentNotCancellable      409 payment-not-cancellable, ``payment_status``
    ├── InvalidValue               a parser refused one value; its caller decides the answer
    │   ├── InvalidIdNumber            (citizens/cccd.py)         (all are ValueErrors too)
    │   ├── ContentDigestError         (auth/digest.py; the signature check answers 401)
    │   ├── WebhookVerificationError   (webhook_signatures.py, for receivers)
    │   ├── PeriodError                (reports/period.py)
    │   └── SubjectInputError          (audit/subject.py)
    ├── InternalFault              the gateway's own machinery failed: a logged 500 (or 503)
    │   ├── StoreError                 (store/base.py)
    │   ├── AuditLogClosed, AuditKeyError   (audit/)
    │   └── NonceStoreFull             (auth/nonces.py; the auth middleware answers 503)
    └── CommandRefused             an operator command cannot run: one line, exit 1
        ├── ConfigError                (config.py)
        ├── ReportRefused, NoData      (reports/)
        ├── ProviderNotConfigured      (payments/reconcile/providers.py)
        └── DemoFailed                 (dev/demo.py)

Services (citizens, businesses, payments) raise :class:`DomainError`, never a
``Problem``: a service does not know it is behind HTTP. Routes and middlewares
raise ``Problem`` for what is wrong with the request itself. The problem
boundary (the problem middleware) answers a ``Problem`` as it is, a
``DomainError`` by the table, an ``AdapterError`` by its ``status`` and
``problem_type``, and anything else as a logged 500.

Messages never hold a personal id or name: a ``DomainError``'s problem takes its
``detail`` from the table, not from ``str(exc)``.

This module imports nothing of the project, so every layer (the store included)
may raise under the same root.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """The root of everything the gateway raises on its own account."""


# -- domain errors: raised by services, answered through DOMAIN_PROBLEMS ---------------------


class DomainError(GatewayError):
    """A service refused what it was asked; the problem boundary maps it by its class."""


class InvalidRequest(DomainError):
    """What was asked is invalid for the domain; ``errors`` is ``[{"field", "message"}]``.

    The messages say what is wrong, never the value given (it may be a personal id).
    """

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid field(s): " + ", ".join(e["field"] for e in errors))
        self.errors = errors


class PaymentNotFound(DomainError, LookupError):
    """No such payment (for this client); ``str()`` is the id or reference looked for."""


class IdempotencyConflict(DomainError):
    """An ``Idempotency-Key`` already bound to another request body."""


class InvalidTransition(DomainError):
    """The payment's state does not allow the move; ``status`` is the state it is in."""

    def __init__(self, message: str, *, status: Any) -> None:
        super().__init__(message)
        self.status = status


class PaymentNotCancellable(InvalidTransition):
    """A cancel asked of a payment that is final or under review."""


# -- values a parser refused -------------------------------------------------------------------


class InvalidValue(GatewayError, ValueError):
    """A parser refused one value; the caller turns it into its answer (401, 422, a CLI line)."""


# -- internal faults --------------------------------------------------------------------------


class InternalFault(GatewayError):
    """The gateway's own machinery (store, audit log, nonce store) failed: not the caller."""


# -- operator commands ------------------------------------------------------------------------


class CommandRefused(GatewayError):
    """An operator command cannot run; ``str()`` is the one line the operator sees."""


__all__ = [
    "CommandRefused",
    "DomainError",
    "GatewayError",
    "IdempotencyConflict",
    "InternalFault",
    "InvalidRequest",
    "InvalidTransition",
    "InvalidValue",
    "PaymentNotCancellable",
    "PaymentNotFound",
]
