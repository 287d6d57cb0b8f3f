"""Audit fixtures: a fresh store (SQLite always, PostgreSQL when configured), a key, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.audit.chain import VerifyReport
from gateway.audit.config import AuditConfig
from gateway.audit.export import verify_audit_log
from gateway.audit.log import AuditLog
from gateway.store import Store

# The store fixtures (both backends, an isolated schema on PostgreSQL, the fake clock)
# are the store suite's own; the audit suite shares them rather than copying them.
from tests.store.conftest import (
    backend,
    clock,
    open_stores,
    store,
    store_config,
)
from tests.support.clock import FakeClock

POSTGRES_DSN_ENV = "LIENTHONG_TEST_POSTGRES_DSN"

#: Fixture personal data: must never appear in the clear in records or logs.
CITIZEN_ID = "092090001234"
CITIZEN_NAME = "Nguyễn Văn An"


__all__ = ["backend", "clock", "open_stores", "store", "store_config"]


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
        # The chain tests read the store right after appending; durability itself is
        # tested on its own (test_log.py: commit vs buffered).
        durability="commit",
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


async def verify(log: AuditLog, since: datetime | None = None) -> VerifyReport:
    """What ``lienthong audit verify`` reports of ``log``'s store, under ``log``'s keys."""
    return await verify_audit_log(
        log.store, log.keys.verification_keys, since=since, archive_dir=log.config.archive_dir
    )


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
