"""A payment request's 422 names its fields as every other route's does (one pydantic helper)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.citizens.lookup import parse_lookup_request
from gateway.payments.requests import PaymentRequest, parse_payment_request
from gateway.problems import BODY_FIELD, ValidationFailed
from tests.payments.conftest import RETURN_PREFIX, payment_body


def _fields(data: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_payment_request(data, return_url_prefixes=[RETURN_PREFIX], providers=["dvcqg"])
    return [e["field"] for e in caught.value.errors]


def test_a_body_that_is_not_an_object_is_the_field_body_as_for_citizens() -> None:
    """A JSON array as the payment body is ``"field": "body"``, the citizens routes' spelling."""
    with pytest.raises(ValidationFailed) as citizens:
        parse_lookup_request([])
    assert [e["field"] for e in citizens.value.errors] == [BODY_FIELD] == ["body"]
    assert _fields([]) == ["body"]


def test_the_helper_names_dotted_paths_overrides_messages_and_never_echoes_input() -> None:
    """``from_pydantic``: a dotted path, the given message, and the bad value nowhere."""
    body = payment_body(provider="dvcqg")
    body["payer"] = {**body["payer"], "id_number": "0920900SECRET"}
    with pytest.raises(ValidationError) as caught:
        PaymentRequest.model_validate(body)
    problem = ValidationFailed.from_pydantic(caught.value, messages={("payer", "id_number"): "bad"})
    assert problem.errors == [{"field": "payer.id_number", "message": "bad"}]
    assert "SECRET" not in str(problem.to_dict())
