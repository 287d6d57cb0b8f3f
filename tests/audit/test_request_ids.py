"""Property: the request id a caller gets back is the one in every log line and audit record.

10,000 random ``X-Request-ID`` values (hex, UUIDs, digits, mixed; many holding a
9- or 12-digit run, the shapes the masker looks for) go over loopback through
the production middlewares (request context, audit, problems), the real
citizens route and :class:`CitizenService`, the production log pipeline
(``configure_logging``, JSON lines) and the real audit log. A few hundred
such ids through a whole gateway and its sandboxes: ``tests/e2e/test_request_ids.py``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.observability import UpstreamExchange, record_exchange, wall_clock
from adapters.population.models import CitizenQuery, CitizenRecord
from gateway.appkeys import AUDIT_LOG, CITIZEN_SERVICE, SECURITY_MONITOR
from gateway.audit.config import AuditConfig
from gateway.audit.log import AuditLog
from gateway.audit.middleware import audit_middleware
from gateway.auth.config import ClientConfig
from gateway.auth.keys import CLIENT, REQUEST_BODY
from gateway.citizens import CitizenService
from gateway.citizens.routes import routes as citizen_routes
from gateway.http.boundary import problem_middleware
from gateway.http.context import request_context_middleware
from gateway.security.null import NullSecurityMonitor
from gateway.store import Store
from tests.conftest import find_leaks
from tests.gateway.test_identity_service import SANDBOX
from tests.request_ids import id_shaped, production_log_lines, random_request_ids

COUNT = 10_000
SEED = 20261201
AN = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}
#: A digest full of 9- and 12-digit runs: recorded as it is.
DIGEST = "1234567890" * 6 + "abcd"
#: The one line every request logs, carrying its request id: the access line, named by
#: the operation's outcome, its upstream exchange nested in it.
LINE_EVENT = "citizen.verified"


class Population:
    """The population database as the real adapter reports it: a record and an exchange."""

    async def lookup(self, query: CitizenQuery) -> CitizenRecord | None:
        now = wall_clock()
        record_exchange(
            UpstreamExchange(
                upstream="population",
                operation="TraCuuThongTinCongDan",
                request_out=now,
                response_in=now,
                bytes_out=900,
                bytes_in=1200,
                extra={"request_digest": DIGEST, "response_digest": "f" * 64},
            )
        )
        return SANDBOX.get(query.id_number)


@web.middleware
async def fake_authentication(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Stand-in for authentication: the client and the body, under the real keys."""
    request[REQUEST_BODY] = await request.read()
    request[CLIENT] = ClientConfig(id="one-stop", operations=["*"])
    return await handler(request)


@pytest.fixture
async def audit_log(
    store: Store, tmp_path: Path, audit_config: AuditConfig
) -> AsyncIterator[AuditLog]:
    """The audit log as the gateway runs it (buffered, the default), on the store fixture."""
    config = audit_config.model_copy(update={"durability": "buffered"})
    log = AuditLog(store, config, "gw-1")
    await log.start()
    yield log
    await log.stop()


@pytest.fixture
async def server(audit_log: AuditLog) -> AsyncIterator[TestServer]:
    """The production middlewares in the gateway's order, the real citizens route."""
    app = web.Application(
        middlewares=[
            request_context_middleware,
            audit_middleware(audit_log),
            problem_middleware,
            fake_authentication,
        ]
    )
    app[CITIZEN_SERVICE] = CitizenService(Population())
    app[AUDIT_LOG] = audit_log  # as the audit slice installs it
    app[SECURITY_MONITOR] = NullSecurityMonitor()  # no security slice in this app
    app.add_routes(citizen_routes)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server
    await server.close()


def test_the_generator_covers_every_kind_and_the_masked_shapes() -> None:
    """The random ids include UUIDs with an all-digit group, runs inside tokens, bare runs."""
    ids = random_request_ids(random.Random(SEED), COUNT)
    assert len(set(ids)) > COUNT * 0.95
    assert all(re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", i) for i in ids)
    assert sum(id_shaped(i) for i in ids) > 100
    assert sum(bool(re.search(r"[0-9a-f]{8}-.*-\d{12}$", i)) for i in ids) > 100
    assert sum(bool(re.search(r"[A-Za-z]\d{9}", i)) for i in ids) > 100


# 10,000 exchanges over loopback take ~10 s of CPU: SQLite only (the request id is a text
# column on both backends; the audit suite runs its storage tests on PostgreSQL too).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.timeout(300)
async def test_random_request_ids_reach_every_line_and_record_verbatim(
    server: TestServer, audit_log: AuditLog
) -> None:
    """Each id the client gets back is, unchanged, in its three lines and its two records."""
    sent = random_request_ids(random.Random(SEED), COUNT)
    received: list[str] = []
    body = json.dumps(AN, ensure_ascii=False).encode()
    url = server.make_url("/v1/citizens/verify")
    with production_log_lines() as lines:
        async with aiohttp.ClientSession() as session:
            for rid in sent:
                async with session.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", "X-Request-ID": rid},
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    answer = await resp.json()
                    received.append(resp.headers["X-Request-ID"])
                    assert answer["request_id"] == received[-1]
                    assert answer["fields"]["id_number"] == "match"
    await audit_log.flush()

    for rid, got in zip(sent, received, strict=True):
        if id_shaped(rid):
            assert got != rid
            assert re.fullmatch(r"[0-9a-f]{32}", got)
        else:
            assert got == rid

    events = [json.loads(line) for line in lines]
    times = Counter(received)  # short random ids repeat
    per_id = Counter(e["request_id"] for e in events if "request_id" in e)
    assert per_id == times  # one line per request, nothing else carries its id
    verified = [e for e in events if e["event"] == LINE_EVENT]
    assert len(verified) == COUNT
    assert all(e["upstream"]["system"] == "population" for e in verified)
    assert all(  # verdicts under field names are verdicts, not the fields
        e["fields"] == {"id_number": "match", "full_name": "match", "birth_date": "match"}
        for e in verified
    )

    rows = await audit_log.store.fetch_all("SELECT * FROM audit_records ORDER BY seq")
    recorded = Counter((r["kind"], r["request_id"]) for r in rows)
    assert recorded == Counter({("inbound", rid): n for rid, n in times.items()})
    folded = [u for r in rows for u in json.loads(r["detail"]).get("upstream", [])]
    assert len(folded) == COUNT
    assert {u["request_digest"] for u in folded} == {DIGEST}
    replaced = {rid for rid in sent if id_shaped(rid)}
    logged_numbers = {n for line in lines for n in re.findall(r"\d+", line)}
    assert not replaced & logged_numbers  # a caller's id-shaped id is logged nowhere
    assert find_leaks(lines) == []
    assert find_leaks([json.dumps(r, ensure_ascii=False, default=str) for r in rows]) == []
