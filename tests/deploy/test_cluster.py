"""The cluster: nginx in front of three gateways on one PostgreSQL, through kills and restarts.

Everything is a real process on loopback: nginx (the shipped config, its upstreams
moved to the instances' ports), three ``lienthong run`` instances (each its own
``instance_id``, ``nonce_store = "store"``, one PostgreSQL schema), and the sandboxes
as their own ``lienthong sandbox`` process, calling back through nginx. A steady
stream of signed verifications, payment creations (with ``Idempotency-Key``) and
payer visits (each bringing the provider's callbacks, every one sent twice) runs
for at least 60 s while one instance is SIGKILLed and restarted and then all three
are restarted one at a time with SIGTERM. The client retries only what its rules
allow: a verification (it changes nothing) and a creation under its key, each
signed afresh; every other request must succeed the first time.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.audit.commands import audit_verify_command
from gateway.audit.config import AuditConfig
from gateway.auth.signatures import sign_request
from gateway.store import StoreConfig, open_store
from gateway.webhook_signatures import WebhookVerificationError, new_secret, verify
from tests.deploy.gateway_process import spawn
from tests.deploy.test_nginx import _running_nginx
from tests.deploy.tools import require_tool
from tests.payments.conftest import POSTGRES_DSN_ENV, eventually, pay_at_sandbox, payment_body
from tests.payments.processes import GatewayProcess, free_port, gateway_env
from tests.support.gateway import SECRETS

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

INSTANCES = 3
STREAM_SECONDS = 60.0
CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}
#: Answers after which the client's rules allow another try (of a request it may retry).
RETRYABLE = {408, 429, 502, 503, 504}


@dataclass
class Tally:
    """What the client saw: answers by kind, its retries, and what failed for good."""

    ok: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    retries: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[tuple[str, Any]] = field(default_factory=list)
    #: payment id → the outcome its payer chose (so the state its callbacks decide).
    expected: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """The one-stop system's webhook endpoint: every verified delivery, by webhook id."""

    secret: str
    deliveries: list[tuple[str, str, str]] = field(default_factory=list)  # id, payment, type

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            msg_id = verify([self.secret], request.headers, body, now=datetime.now(UTC))
        except WebhookVerificationError:
            return web.Response(status=401)
        event = json.loads(body)
        self.deliveries.append((msg_id, event["data"]["payment_id"], event["type"]))
        return web.Response(status=204)


def signed(method: str, url: str, body: bytes, extra: dict[str, str] | None = None) -> Any:
    headers = {"Content-Type": "application/json", **(extra or {})}
    return sign_request(method, url, headers, body, "motcua-demo", SECRETS["motcua-demo"])


async def call(
    session: aiohttp.ClientSession,
    tally: Tally,
    kind: str,
    url: str,
    body: dict[str, Any],
    *,
    ok: int,
    retry: bool,
    extra: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """One signed POST, retried (signed afresh) only when ``retry``; None if it failed."""
    data = json.dumps(body).encode()
    seen: Any = None
    for attempt in range(10):
        try:
            async with session.post(url, data=data, headers=signed("POST", url, data, extra)) as r:
                seen = (r.status, await r.text())
                if r.status == ok:
                    tally.ok[kind] += 1
                    return dict(json.loads(seen[1]))
                if r.status not in RETRYABLE:
                    break
        except (aiohttp.ClientError, TimeoutError) as exc:
            seen = type(exc).__name__
        if not retry:
            break
        tally.retries[kind] += 1
        await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
    tally.failures.append((kind, seen))
    return None


async def verifications(
    session: aiohttp.ClientSession, base: str, tally: Tally, until: Any
) -> None:
    while not until():
        answer = await call(
            session, tally, "verify", base + "/v1/citizens/verify", CLAIM, ok=200, retry=True
        )
        if answer is not None and answer.get("verdict") != "match":
            tally.failures.append(("verify", answer))


async def payments(
    session: aiohttp.ClientSession, base: str, tally: Tally, until: Any, lane: int, back: str
) -> None:
    n = 0
    while not until():
        n += 1
        provider = ("dvcqg", "vnpay")[(n + lane) % 2]
        outcome = ("paid", "failed")[(n // 2 + lane) % 2]
        key = {"Idempotency-Key": str(uuid.uuid4())}  # the same key on every retry
        body = payment_body(provider=provider, return_url=back)
        payment = await call(
            session, tally, "create", base + "/v1/payments", body, ok=201, retry=True, extra=key
        )
        if payment is None:
            continue
        tally.expected[payment["payment_id"]] = outcome
        try:  # the payer at the provider's page (a sandbox that is never restarted)
            await pay_at_sandbox(session, payment, outcome)
            tally.ok["pay"] += 1
        except (AssertionError, aiohttp.ClientError) as exc:
            tally.failures.append(("pay", repr(exc)))


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[tuple[str, str]]:
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(f"the cluster test needs PostgreSQL: set {POSTGRES_DSN_ENV}")
    schema = "cluster_" + secrets.token_hex(6)
    try:
        yield dsn, schema
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def _until_answering(session: aiohttp.ClientSession, url: str, proc: Any) -> None:
    async def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the process behind {url} exited")
        try:
            async with session.get(url) as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(up, within=60, what=f"{url} to answer")


async def _restart(gateways: list[GatewayProcess], i: int, env: dict[str, str], log: Path) -> None:
    port = int(gateways[i].url.rsplit(":", 1)[1])
    gateways[i] = await asyncio.to_thread(GatewayProcess.start, port, env, log)


async def chaos(
    gateways: list[GatewayProcess], envs: list[dict[str, str]], logs: list[Path], events: list[str]
) -> None:
    """(a) SIGKILL one instance, restart it; (b) restart all three, one at a time, by SIGTERM."""
    await asyncio.sleep(8)
    gateways[1].kill()
    events.append("killed 1")
    await asyncio.sleep(2)
    await _restart(gateways, 1, envs[1], logs[1])
    events.append("restarted 1")
    for i in range(INSTANCES):
        await asyncio.sleep(3)
        status = await asyncio.to_thread(gateways[i].stop)
        events.append(f"stopped {i}: {status}")
        await _restart(gateways, i, envs[i], logs[i])
        events.append(f"restarted {i}")


async def _rows(store_config: StoreConfig, sql: str) -> list[Any]:
    store = await open_store(store_config)
    try:
        return list(await store.fetch_all(sql))
    finally:
        await store.close()


async def test_three_instances_behind_nginx_survive_a_kill_and_a_rolling_restart(
    tmp_path: Path,
) -> None:
    """Nothing the client could not retry fails; every payment, webhook and chain is right."""
    require_tool("nginx", "nginx-light")
    async with AsyncExitStack() as stack:
        dsn, schema = await stack.enter_async_context(postgres_schema())
        store_config = StoreConfig(url=dsn, schema_name=schema)
        receiver = Receiver(new_secret())
        app = web.Application()
        app.router.add_post("/webhooks", receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        receiver_port = free_port()
        await web.TCPSite(runner, "127.0.0.1", receiver_port).start()

        ports = [free_port() for _ in range(INSTANCES)]
        nginx_port = stack.enter_context(_running_nginx(tmp_path, ports))
        base = f"http://127.0.0.1:{nginx_port}"
        sandbox_ports = {name: free_port() for name in ("population", "ngsp", "dvcqg", "vnpay")}
        common = gateway_env(ports[0], dsn, receiver_port, receiver.secret)
        common.update(
            {f"LIENTHONG_SANDBOX__{n.upper()}_PORT": str(p) for n, p in sandbox_ports.items()}
        )
        common["LIENTHONG_STORE__SCHEMA_NAME"] = schema
        sandbox_env = {**common, "LIENTHONG_SERVER__PORT": str(nginx_port)}  # calls back there
        sandbox_log = tmp_path / "sandboxes.log"
        sandboxes = spawn(sandbox_env, sandbox_log, "sandbox")
        stack.callback(lambda: (sandboxes.terminate(), sandboxes.wait(timeout=30)))

        sb = {n: f"http://127.0.0.1:{p}" for n, p in sandbox_ports.items()}
        quota = {"rate_per_second": 1000.0, "burst": 1000.0}
        envs = []
        for i, port in enumerate(ports):
            env = {
                **common,
                "LIENTHONG_INSTANCE_ID": f"cluster-{i}",
                "LIENTHONG_SERVER__PORT": str(port),
                "LIENTHONG_SERVER__NONCE_STORE": "store",
                "LIENTHONG_SERVER__TRUSTED_PROXIES": '["127.0.0.1/32"]',
                "LIENTHONG_SERVER__DRAIN_SECONDS": "1",
                "LIENTHONG_SANDBOX__ENABLED": "false",
                "LIENTHONG_UPSTREAMS__POPULATION__ADAPTER__ENDPOINT": sb["population"]
                + PopulationSandboxConfig().path,
                "LIENTHONG_UPSTREAMS__BUSINESS__ADAPTER__BASE_URL": sb["ngsp"],
                "LIENTHONG_UPSTREAMS__BUSINESS__ADAPTER__OAUTH__TOKEN_URL": sb["ngsp"] + "/token",
                "LIENTHONG_UPSTREAMS__DVCQG__ADAPTER__BASE_URL": sb["dvcqg"],
                "LIENTHONG_UPSTREAMS__VNPAY__ADAPTER__PAY_URL": sb["vnpay"]
                + "/paymentv2/vpcpay.html",
                "LIENTHONG_UPSTREAMS__VNPAY__ADAPTER__API_URL": sb["vnpay"]
                + "/merchant_webapi/api/transaction",
                "LIENTHONG_UPSTREAMS__VNPAY__ADAPTER__RETURN_URL": base + "/pay/return/vnpay",
                "LIENTHONG_UPSTREAMS__DVCQG__RESILIENCE": json.dumps({"quota": quota}),
                "LIENTHONG_UPSTREAMS__VNPAY__RESILIENCE": json.dumps({"quota": quota}),
            }
            envs.append(env)
        logs = [tmp_path / f"gateway-{i}.log" for i in range(INSTANCES)]

        session = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        )
        await _until_answering(session, sb["dvcqg"] + "/_admin/stats", sandboxes)
        for name in ("dvcqg", "vnpay"):  # every callback twice: dedupe across instances
            async with session.post(
                sb[name] + "/_admin/misbehaviour", json={"duplicate_callbacks": 2}
            ) as r:
                assert r.status < 300, await r.text()
        gateways: list[GatewayProcess] = []
        for i in range(INSTANCES):  # one at a time: the first applies the migrations
            gateways.append(
                await asyncio.to_thread(GatewayProcess.start, ports[i], envs[i], logs[i])
            )
        stack.callback(lambda: [gw.stop() for gw in gateways])

        tally = Tally()
        back = f"http://127.0.0.1:{receiver_port}/dossiers/cluster"
        events: list[str] = []
        started = time.monotonic()
        chaos_task = asyncio.create_task(chaos(gateways, envs, logs, events))

        def done() -> bool:
            return chaos_task.done() and time.monotonic() - started >= STREAM_SECONDS

        await asyncio.gather(
            *(verifications(session, base, tally, done) for _ in range(2)),
            *(payments(session, base, tally, done, lane, back) for lane in range(2)),
            chaos_task,
        )
        print(  # the run's shape, for the record (pytest -s, or the CI log on failure)
            f"cluster: {dict(tally.ok)} answered, retries {dict(tally.retries)},"
            f" {len(tally.expected)} payments; {events}"
        )
        stopped = [e for e in events if e.startswith("stopped")]
        assert stopped == [f"stopped {i}: 0" for i in range(INSTANCES)], events
        assert tally.failures == [], (tally.failures[:10], dict(tally.retries), events)
        assert tally.ok["verify"] > 0
        assert tally.ok["pay"] == len(tally.expected) > 0

        # No replay across instances: a request accepted by one is refused by another.
        url0, url1 = gateways[0].url, gateways[1].url
        data = json.dumps(CLAIM).encode()
        headers = signed("POST", url0 + "/v1/citizens/verify", data)
        async with session.post(url0 + "/v1/citizens/verify", data=data, headers=headers) as r:
            assert r.status == 200, await r.text()
        replayed = {**headers, "Host": url0.split("//", 1)[1]}
        async with session.post(url1 + "/v1/citizens/verify", data=data, headers=replayed) as r:
            replay = (r.status, await r.json())
        assert replay[0] == 401
        assert replay[1]["type"].endswith("/replayed-request"), replay

        # Every payment ends in the state its callbacks decide; every event reaches the client.
        async def settled() -> bool:
            rows = await _rows(store_config, "SELECT id, status FROM payments")
            states = {r["id"]: r["status"] for r in rows}
            return all(states.get(p) == o for p, o in tally.expected.items())

        await eventually(settled, within=120, what="every payment in its decided state")

        async def delivered() -> bool:
            rows = await _rows(
                store_config, "SELECT COUNT(*) AS n FROM outbox_events WHERE status <> 'delivered'"
            )
            return int(rows[0]["n"]) == 0

        await eventually(delivered, within=120, what="every outbox event delivered")
        outbox = await _rows(store_config, "SELECT id, payment_id, type FROM outbox_events")
        audit = AuditConfig(
            signing_key_file=Path(common["LIENTHONG_TLS__DEV_PKI_DIR"]) / "audit-signing.key"
        )
        for gw in gateways:
            assert await asyncio.to_thread(gw.stop) == 0
        verdict_out = tmp_path / "verify.txt"
        with verdict_out.open("w") as out:
            verified = await audit_verify_command(store_config, audit, out=out)
        chains = await _rows(store_config, "SELECT DISTINCT instance FROM audit_records")

    received = {msg_id for msg_id, _, _ in receiver.deliveries}
    assert {str(r["id"]) for r in outbox} <= received  # every webhook id at least once
    ids_of: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for msg_id, payment_id, kind in receiver.deliveries:
        ids_of[(payment_id, kind)].add(msg_id)
    assert all(len(ids) == 1 for ids in ids_of.values())  # each (payment, type) under one id
    for payment_id, outcome in tally.expected.items():
        assert {k for (p, k) in ids_of if p == payment_id} == {
            "payment.pending",
            f"payment.{outcome}",
        }, payment_id
    assert verified == 0, verdict_out.read_text()
    assert {f"cluster-{i}" for i in range(INSTANCES)} <= {str(r["instance"]) for r in chains}
