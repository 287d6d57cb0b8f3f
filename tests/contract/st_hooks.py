"""Schemathesis hooks for the contract run: real signatures, and the checks the document implies.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.contract.st_hooks``
(see ``test_schemathesis.py``).

Signing. The document's ``httpSignature`` scheme is RFC 9421, which no generic tool
can produce from a header value. :class:`SignedRequests` is schemathesis' auth
provider for it: it marks a case as "carrying valid credentials", and ``before_call``
then signs that request as it goes on the wire (method, authority, path, query, the
body's Content-Digest) with the gateway's own :func:`gateway.auth.signatures.sign_request`
and the dev client's fixture secret (``LIENTHONG_CONTRACT_CLIENT`` /
``LIENTHONG_CONTRACT_SECRET``). Schemathesis' own probes for the ``ignored_auth``
check (credentials removed or made up) carry no mark and so go unsigned or with a
bad signature: they must be refused with 401.

Checks beyond the built-in ones:

* :func:`refused_only_for_documented_reasons`: where ``schemathesis.toml`` lets a
  schema-valid request be refused (422, or 400 for the payer's return), the answer
  must give one of the reasons the document names for that operation and nothing
  else, so the allowance hides no real disagreement between schema and validation;
* :func:`callbacks_refuse_in_provider_format`: a schema-violating provider callback
  is answered 200 (the providers' protocol) with the provider's refusal code;
* :func:`json_is_utf8`: every JSON answer says ``charset=utf-8`` and carries
  non-ASCII text as UTF-8, never as ``\\u`` escapes.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import requests
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.auths import AuthContext
from schemathesis.hooks import HookContext

from gateway.auth.signatures import sign_request

#: What :class:`SignedRequests` puts in ``Signature``: "sign this one properly".
SIGN_ME = "lienthong-contract-sign-me"

#: Operation → ``(field, start of message)`` of each refusal the document describes
#: beyond its schema (rules across fields, against today's date, per client, per
#: stored state, or a check digit). Messages are the validators' own.
DOCUMENTED_REFUSALS: dict[str, list[tuple[str, str]]] = {
    "POST /v1/citizens/verify": [
        ("id_number", "the century digit (4th digit) does not agree"),
        ("id_number", "the year digits (5th and 6th digits) do not agree"),
        ("id_number", "the gender digit (4th digit) does not agree"),
        ("birth_date", "must not be in the future"),
    ],
    "GET /v1/businesses/{tax_code}": [
        ("tax_code", "the check digit does not match"),
        ("tax_code", "a branch suffix is never 000"),
        ("tax_code", "not a tax code the registry issues"),
    ],
    "POST /v1/payments": [
        ("fee_lines", "the total is too large"),
        # idempotency-key-reused (a 422 without `errors`) is handled below.
    ],
}


class _Rfc9421Auth(requests.auth.AuthBase):
    """Sign the prepared request (its final URL, headers and body bytes)."""

    def __init__(self, key_id: str, secret: str) -> None:
        self.key_id = key_id
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "signature"}
        signed = sign_request(
            request.method or "GET", request.url or "", headers, body, self.key_id, self.secret
        )
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            if name in signed:
                request.headers[name] = signed[name]
        return request


@schemathesis.auth(refresh_interval=None, retry_on=[])
class SignedRequests:
    """The auth provider of the ``httpSignature`` scheme: marks a case to be signed."""

    def get(self, case: Case, ctx: AuthContext) -> str:
        return SIGN_ME

    def set(self, case: Case, data: str, ctx: AuthContext) -> None:
        case.headers = case.headers or {}
        case.headers["Signature"] = data


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Sign the marked requests; leave the rest (public paths, auth probes) as they are."""
    if (case.headers or {}).get("Signature") != SIGN_ME:
        return
    kwargs["auth"] = _Rfc9421Auth(
        os.environ["LIENTHONG_CONTRACT_CLIENT"], os.environ["LIENTHONG_CONTRACT_SECRET"]
    )


def _json(response: Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _is_positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.check
def refused_only_for_documented_reasons(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """A schema-valid request refused must be refused for a reason the document names."""
    if not _is_positive(case):
        return None
    label = case.operation.label
    if label == "GET /pay/return/{provider}" and response.status_code == 400:
        page = response.content.decode("utf-8", "replace")
        assert "could not be verified" in page or "no payment" in page, page
        return True
    if response.status_code != 422 or label not in DOCUMENTED_REFUSALS:
        return None
    problem = _json(response)
    assert isinstance(problem, dict), response.content
    if label == "POST /v1/payments" and problem.get("type", "").endswith("/idempotency-key-reused"):
        return True
    allowed = DOCUMENTED_REFUSALS[label]
    errors = problem.get("errors") or []
    assert errors, problem
    for error in errors:
        assert any(
            error["field"] == field and error["message"].startswith(start)
            for field, start in allowed
        ), f"a schema-valid request refused for an undocumented reason: {error}"
    return True


@schemathesis.check
def callbacks_refuse_in_provider_format(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """A callback that is not what the provider sends is refused in the provider's format."""
    if case.meta is None or case.meta.generation.mode.is_positive:
        return None
    if not case.operation.label.startswith(("GET /callbacks/", "POST /callbacks/")):
        return None
    if response.status_code != 200:
        return None  # an unknown provider: 404, a problem
    answer = _json(response)
    assert isinstance(answer, dict), response.content
    code = answer.get("MaLoi", answer.get("RspCode"))
    assert code not in (None, "00"), f"a malformed callback was confirmed: {answer}"
    return True


#: ``\u0080`` and above: a character JSON would carry as UTF-8 unless escaped to ASCII.
_ESCAPED_NON_ASCII = re.compile(
    rb"\\u(?:00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})"
)


@schemathesis.check
def json_is_utf8(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """JSON answers are ``charset=utf-8`` with non-ASCII text unescaped."""
    content_type = response.headers.get("content-type", [""])[0].lower()
    if "json" not in content_type:
        return None
    assert "charset=utf-8" in content_type.replace(" ", ""), content_type
    assert not _ESCAPED_NON_ASCII.search(response.content), response.content[:300]
    return True
