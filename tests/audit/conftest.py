"""Audit fixtures: a fresh store (SQLite always, PostgreSQL when configured), a key, a clock."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.audit import AuditConfig, AuditLog
from gateway.store import Store, StoreConfig, open_store

POSTGRES_DSN_ENV = "LIENTHONG_TEST_POSTGRES_DSN"

#: Fixture personal data: must never appear in the clear in records or logs.
CITIZEN_ID = "092090001234"
CITIZEN_NAME = "Nguyễn Văn An"


class FakeClock:
    """A settable UTC clock: tests move time instead of waiting for it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta | float) -> None:
        self.now += by if isinstance(by, timedelta) else timedelta(seconds=by)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database under test."""
    name: str = request.param
    if name == "postgres" and not os.environ.get(POSTGRES_DSN_ENV):
        pytest.skip(f"PostgreSQL audit tests skipped: set {POSTGRES_DSN_ENV}")
    return name


@pytest.fixture
async def store_config(backend: str, tmp_path: Path) -> AsyncIterator[StoreConfig]:
    """A fresh database: a file under tmp_path, or a schema of its own on PostgreSQL."""
    if backend == "sqlite":
        yield StoreConfig(url=f"sqlite:///{tmp_path}/audit.db")
        return
    dsn = os.environ[POSTGRES_DSN_ENV]
    schema = "audit_" + secrets.token_hex(8)
    yield StoreConfig(url=dsn, schema_name=schema, pool_size=4)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def clock() -> FakeClock:
    """The injected clock, starting 2026-03-01 09:00 in Vietnam."""
    return FakeClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
async def store(store_config: StoreConfig, clock: FakeClock) -> AsyncIterator[Store]:
    """One open store, closed after the test."""
    opened = await open_store(store_config, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
def audit_config(tmp_path: Path) -> AuditConfig:
    """An audit config with a fresh Ed25519 key written at test time."""
    key_file = tmp_path / "audit-signing.key"
    key_file.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return AuditConfig(
        signing_key_file=key_file,
        archive_dir=tmp_path / "archive",
        checkpoint_interval_seconds=3600,
        retention_days=30,
    )


@pytest.fixture
async def audit_log(
    store: Store, audit_config: AuditConfig, clock: FakeClock
) -> AsyncIterator[AuditLog]:
    """A running audit log for instance ``gw-1``; stopped after the test."""
    log = AuditLog(store, audit_config, "gw-1", clock=clock)
    await log.start()
    yield log
    await log.stop()


async def append_some(log: AuditLog, clock: FakeClock, count: int) -> None:
    """``count`` inbound records one second apart, each naming the fixture citizen."""
    for n in range(count):
        clock.advance(1)
        await log.append(
            kind="inbound",
            operation="citizens.verify",
            outcome="ok",
            client_id="one-stop",
            status=200,
            request_id=f"req-{n}",
            request_body=f'{{"id_number": "{CITIZEN_ID}", "n": {n}}}'.encode(),
            response_body=b'{"verdict": "match"}',
            id_numbers=[CITIZEN_ID],
        )
