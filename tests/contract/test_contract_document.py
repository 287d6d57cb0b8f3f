"""gateway/openapi.json against the code it describes: patterns, webhooks, Retry-After, UTF-8."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
from openapi_spec_validator import validate

from gateway.http.ops import load_openapi
from gateway.payments.model import EVENT_TYPES
from gateway.problems import TooManyRequests, json_response
from tests.contract.patterns import expected_patterns, resolve


def _schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return {**doc["components"]["schemas"][name], "components": doc["components"]}


def test_document_is_valid_openapi_31() -> None:
    """The document, webhooks included, is valid OpenAPI 3.1."""
    doc = load_openapi()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_patterns_are_the_validators_own() -> None:
    """Each pattern derived from code (provinces, name rule, stdnum separators) is in the doc.

    On failure: ``python -m tests.contract.patterns`` writes them in again.
    """
    doc = load_openapi()
    for pointer, pattern in expected_patterns().items():
        assert resolve(doc, pointer) == pattern, pointer


def test_every_event_type_is_a_documented_webhook() -> None:
    """Every event the outbox emits has a webhook entry with the Standard Webhooks headers."""
    doc = load_openapi()
    assert set(doc["webhooks"]) == set(EVENT_TYPES.values())
    event_enum = doc["components"]["schemas"]["PaymentEvent"]["properties"]["type"]["enum"]
    assert set(event_enum) == set(EVENT_TYPES.values())
    for item in doc["webhooks"].values():
        headers = {p["name"] for p in item["post"]["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_every_429_and_problem_503_documents_retry_after() -> None:
    """Where the gateway sends Retry-After, the document says so."""
    doc = load_openapi()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                problem = "application/problem+json" in response.get("content", {})
                if code == "429" or (code == "503" and problem):
                    assert "Retry-After" in response.get("headers", {}), (method, path, code)


def test_problem_and_json_answers_are_utf8_unescaped() -> None:
    """Vietnamese text goes out as UTF-8 with charset=utf-8, not as \\u escapes."""
    text = "Lệ phí cấp giấy"
    ok = json_response({"name": text})
    problem = TooManyRequests(text, retry_after=2).to_response("req-1")
    for response in (ok, problem):
        assert response.charset == "utf-8"
        assert response.body is not None
        body = bytes(response.body)  # type: ignore[arg-type]
        assert text.encode("utf-8") in body
        assert b"\\u" not in body
    assert problem.headers["Retry-After"] == "2"
    jsonschema.validate(json.loads(bytes(problem.body)), _schema(load_openapi(), "Problem"))  # type: ignore[arg-type]
