"""The gateway's exception tree (gateway/errors.py): one root, and one table to the problems."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import gateway
from gateway.errors import (
    DomainError,
    GatewayError,
    IdempotencyConflict,
    InvalidRequest,
    PaymentNotCancellable,
    PaymentNotFound,
)
from gateway.payments.model import PaymentStatus
from gateway.problems import DOMAIN_PROBLEMS, Problem, problem_for

REPO = Path(__file__).resolve().parents[2]
#: Control flow inside one function, never raised past it.
PRIVATE = {"gateway.payments.ledger._LostIdempotencyRace"}
#: The services: they raise domain errors and know nothing of HTTP problems.
SERVICES = (
    "gateway/citizens/service.py",
    "gateway/businesses/service.py",
    "gateway/payments/service.py",
)


def _gateway_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if info.name == "gateway.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_exception_of_the_gateway_is_under_the_one_root() -> None:
    """Each exception class defined in gateway/ is a GatewayError (private control flow apart)."""
    classes = _gateway_exceptions()
    assert len(classes) > 20
    strays = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, GatewayError) and f"{c.__module__}.{c.__qualname__}" not in PRIVATE
    ]
    assert strays == []


def test_every_domain_error_has_its_problem_in_the_table() -> None:
    """No DomainError class falls through the table to a 500."""
    missing = [
        c.__qualname__
        for c in _gateway_exceptions()
        if issubclass(c, DomainError)
        and c is not DomainError
        and not any(base in DOMAIN_PROBLEMS for base in c.__mro__)
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (
            InvalidRequest([{"field": "tax_code", "message": "the check digit does not match"}]),
            {
                "type": "https://lienthong.example/problems/validation-failed",
                "title": "The request is not valid",
                "status": 422,
                "detail": "invalid field(s): tax_code",
                "errors": [{"field": "tax_code", "message": "the check digit does not match"}],
            },
        ),
        (
            PaymentNotFound("pay_someone_elses"),
            {
                "type": "https://lienthong.example/problems/payment-not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no such payment",
            },
        ),
        (
            IdempotencyConflict("idempotency key reused with a different request"),
            {
                "type": "https://lienthong.example/problems/idempotency-key-reused",
                "title": "Idempotency-Key reused with another body",
                "status": 422,
                "detail": "this Idempotency-Key was used with another request body",
            },
        ),
        (
            PaymentNotCancellable("paid", status=PaymentStatus.PAID),
            {
                "type": "https://lienthong.example/problems/payment-not-cancellable",
                "title": "Conflict",
                "status": 409,
                "detail": "the payment is paid and can no longer be cancelled",
                "payment_status": "paid",
            },
        ),
    ],
)
def test_the_table_answers_each_domain_error_as_before(error: DomainError, body: object) -> None:
    """The problem bodies are the ones the routes answered before the tree (and never the id)."""
    problem = problem_for(error)
    assert isinstance(problem, Problem)
    assert problem.to_dict() == body


def test_services_never_import_http_problems() -> None:
    """The citizen, business and payment services raise domain errors, not gateway.problems."""
    wrong = []
    for rel in SERVICES:
        tree = ast.parse((REPO / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "gateway.problems":
                wrong.append(f"{rel}:{node.lineno}")
    assert wrong == []
