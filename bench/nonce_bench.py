"""The replay check's CPU cost in the gateway process, per nonce store.

Signed requests are prepared first (signing is never measured); then ``workers``
concurrent tasks verify them with :func:`gateway.auth.signatures.verify_signed_request`,
the gateway's own code path, once with a store that remembers nothing (the
baseline: everything but the nonce check) and once per store: in memory, shared on
SQLite, shared on PostgreSQL. CPU is ``time.process_time()`` of this process
(every thread, so aiosqlite's too), not wall time and not the database server's.
The nonce check's cost is a store's CPU per request less the baseline's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from aiohttp import web
from pydantic import SecretStr

from bench.pg_schema import drop_schema, postgres_config
from gateway.appkeys import STORE
from gateway.auth.clients import ClientConfig, ClientRegistry
from gateway.auth.nonces import InMemoryNonceStore, NonceStore, SharedNonceStore
from gateway.auth.signatures import SignedRequest, sign_request, verify_signed_request
from gateway.store import Store, StoreConfig, open_store

CLIENT_ID = "bench-nonces"
SECRET = "bench-nonces-secret"
URL = "http://127.0.0.1:8700/v1/citizens/verify"
BODY = b'{"id_number": "bench", "full_name": "bench", "birth_date": "1990"}'
WINDOW = 300.0


@dataclass(frozen=True)
class NonceCost:
    """One run: which store, how many requests, this process's CPU and the wall time."""

    store: str
    requests: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.requests


class _NoNonceCheck:
    """The baseline: every nonce is new (nothing remembered, nothing looked up)."""

    async def remember(self, client_id: str, nonce: str, expires_at: float) -> bool:
        return True


def _prepared(count: int) -> list[SignedRequest]:
    base = {"Content-Type": "application/json"}
    return [
        SignedRequest.from_url(
            "POST", URL, sign_request("POST", URL, base, BODY, CLIENT_ID, SECRET)
        )
        for _ in range(count)
    ]


async def _verify_all(
    name: str, nonces: NonceStore, requests: Sequence[SignedRequest], workers: int
) -> NonceCost:
    clients = ClientRegistry([ClientConfig(id=CLIENT_ID, secrets=[SecretStr(SECRET)])])
    queue = iter(requests)

    async def caller() -> None:
        for request in queue:
            await verify_signed_request(
                request, BODY, clients=clients, nonces=nonces, now=time.time(), window=WINDOW
            )

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(workers)))
    return NonceCost(name, len(requests), time.process_time() - cpu, time.perf_counter() - wall)


async def _shared_run(
    name: str, config: StoreConfig, count: int, workers: int
) -> tuple[NonceCost, NonceCost]:
    """A shared store's run, and a baseline run just before it (the machine drifts)."""
    store: Store = await open_store(config)
    try:
        app = web.Application()
        app[STORE] = store
        shared = SharedNonceStore(app)
        await _verify_all(name, shared, _prepared(min(count, 200)), workers)  # warm up
        baseline = await _verify_all("baseline", _NoNonceCheck(), _prepared(count), workers)
        return baseline, await _verify_all(name, shared, _prepared(count), workers)
    finally:
        await store.close()


async def _measure(
    count: int, workers: int, stores: tuple[str, ...], dsn: str
) -> tuple[list[NonceCost], list[str]]:
    figures: list[NonceCost] = []
    notes: list[str] = []
    baseline = await _verify_all("baseline", _NoNonceCheck(), _prepared(count), workers)
    memory = await _verify_all("memory", InMemoryNonceStore(), _prepared(count), workers)
    figures += [baseline, memory]
    with TemporaryDirectory(prefix="lienthong-bench-nonces-") as folder:
        sqlite = StoreConfig(url=f"sqlite:///{Path(folder) / 'nonces.db'}")
        figures += await _shared_run("sqlite", sqlite, count, workers)
    if "postgres" in stores:
        config = await postgres_config(dsn, "bench_nonces_")
        if config is None:
            notes.append(f"postgres: skipped, {dsn} does not answer")
        else:
            try:
                figures += await _shared_run("postgres", config, count, workers)
            finally:
                await drop_schema(config)
    return figures, notes


def measure_stores(
    count: int, workers: int, stores: tuple[str, ...], dsn: str
) -> tuple[list[NonceCost], list[str]]:
    """Every store's run (and its baseline); notes say what was skipped."""
    return asyncio.run(_measure(count, workers, stores, dsn))
