"""Features that are off are null objects, not questions asked per request.

- the rule: no module of ``gateway/`` asks ``request.app.get(KEY)`` (is this feature
  there?); the request path does ``request.app[KEY]`` and calls what it finds, a null
  object when the feature is off (X-Road's ``NullLogManager``);
- the feature-off paths still answer: the citizen routes and the volume middleware in
  an app with a :class:`NullAuditLog` and a :class:`NullSecurityMonitor`, and the whole
  gateway with ``[audit] enabled = false``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.appkeys import AUDIT_LOG, CITIZEN_SERVICE, SECURITY_MONITOR
from gateway.audit.config import AuditConfig
from gateway.audit.null import NullAuditLog
from gateway.auth.config import ClientConfig
from gateway.auth.keys import CLIENT, REQUEST_BODY
from gateway.citizens import CitizenService
from gateway.citizens.routes import routes as citizen_routes
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware
from gateway.security.null import NullSecurityMonitor
from gateway.security.runtime import request_volume
from gateway.store import StoreConfig, open_store
from tests.gateway.test_identity_service import CountingPopulation
from tests.support.gateway import e2e_gateway, serving

REPO = Path(__file__).resolve().parent.parent

#: ``request.app.get(`` calls allowed in gateway/, each with its reason. Empty: ops'
#: ``/readyz`` reads SERVING, which create_app always sets and only create_app's app
#: mounts that route.
APP_GET_ALLOWED: dict[str, str] = {}

AN = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}
CONTEXT = {"agency_code": "H29.UBND", "officer_id": "092090009999"}


def app_get_calls(root: Path) -> list[str]:
    """``file:line`` of every ``request.app.get(...)`` under ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "app"
                and isinstance(func.value.value, ast.Name)
                and func.value.value.id == "request"
            ):
                found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return sorted(found)


def test_no_feature_is_asked_for_per_request() -> None:
    calls = app_get_calls(REPO / "gateway")
    assert [c for c in calls if c.split(":")[0] not in APP_GET_ALLOWED] == []


def test_the_rule_finds_a_feature_check(tmp_path: Path) -> None:
    (tmp_path / "routes.py").write_text(
        "def f(request):\n    monitor = request.app.get(KEY)\n    return request.app[KEY]\n"
    )
    assert app_get_calls(tmp_path) == ["routes.py:2"]


class RecordingMonitor:
    """A security observer that keeps what the request path fed it."""

    def __init__(self) -> None:
        self.verifications: list[tuple[str, str, str]] = []
        self.requests: list[str] = []

    def observe_verification(self, client_id: str, id_digest: str, verdict: str) -> None:
        self.verifications.append((client_id, id_digest, verdict))

    def observe_request(self, client_id: str) -> None:
        self.requests.append(client_id)


@web.middleware
async def as_one_stop(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stand-in for authentication: the client and the body, under the real keys."""
    request[REQUEST_BODY] = await request.read()
    request[CLIENT] = ClientConfig(id="one-stop", operations=["*"])
    return await handler(request)


def citizen_app(monitor: object) -> web.Application:
    """The citizen routes behind the real context, problem and volume layers, with auditing
    off (a NullAuditLog) and ``monitor`` as the security monitor."""
    app = web.Application(
        middlewares=[request_context_middleware, problem_middleware, as_one_stop, request_volume]
    )
    app[CITIZEN_SERVICE] = CitizenService(CountingPopulation())
    app[AUDIT_LOG] = NullAuditLog(AuditConfig(enabled=False))
    app[SECURITY_MONITOR] = monitor  # type: ignore[assignment]
    app.add_routes(citizen_routes)
    return app


async def _verify(app: web.Application) -> tuple[int, dict[str, object]]:
    async with (
        serving(app) as url,
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/citizens/verify", json={**AN, **CONTEXT}) as r,
    ):
        return r.status, await r.json()


async def test_with_the_null_monitor_and_no_audit_a_verification_is_answered() -> None:
    status, body = await _verify(citizen_app(NullSecurityMonitor()))
    assert status == 200, body
    assert body["fields"] == {"id_number": "match", "full_name": "match", "birth_date": "match"}


async def test_the_request_path_always_feeds_the_installed_monitor() -> None:
    """No presence check: what is under SECURITY_MONITOR is called, with the installed
    audit log's digest (the null log's is unkeyed)."""
    monitor = RecordingMonitor()
    status, _ = await _verify(citizen_app(monitor))
    assert status == 200
    digest = NullAuditLog(AuditConfig(enabled=False)).subject_digest(AN["id_number"])
    assert monitor.verifications == [("one-stop", digest, "match")]
    assert monitor.requests == ["one-stop"]


async def test_with_auditing_off_the_gateway_answers_and_records_nothing(tmp_path: Path) -> None:
    """``[audit] enabled = false``: the audit slice installs the null log and a
    pass-through middleware; verifications with a context and business reads answer."""
    async with e2e_gateway(tmp_path, audit={"enabled": False}) as gateway:
        status, body, _ = await gateway.call("POST", "/v1/citizens/verify", {**AN, **CONTEXT})
        assert status == 200, body
        status, body, _ = await gateway.call("GET", "/v1/businesses/1801234562")
        assert status == 200, body
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/gw.db"))
    try:
        rows = await store.fetch_all("SELECT count(*) AS n FROM audit_records")
    finally:
        await store.close()
    assert rows[0]["n"] == 0
