"""Store fixtures: every store test runs on SQLite and, when configured, on PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentIdentity, PaymentStatus
from gateway.store import Store, StoreConfig, open_store
from tests.support.clock import FakeClock

POSTGRES_DSN_ENV = "LIENTHONG_TEST_POSTGRES_DSN"

OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database under test."""
    name: str = request.param
    if name == "postgres" and not os.environ.get(POSTGRES_DSN_ENV):
        pytest.skip(
            f"PostgreSQL suite skipped: set {POSTGRES_DSN_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run it"
        )
    return name


@pytest.fixture
async def store_config(backend: str, tmp_path: Path) -> AsyncIterator[StoreConfig]:
    """A fresh database: a file under tmp_path, or a schema of its own on PostgreSQL."""
    if backend == "sqlite":
        yield StoreConfig(url=f"sqlite:///{tmp_path}/lienthong.db")
        return
    dsn = os.environ[POSTGRES_DSN_ENV]
    schema = "t_" + secrets.token_hex(8)
    yield StoreConfig(url=dsn, schema_name=schema, pool_size=10)
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
async def open_stores(store_config: StoreConfig, clock: FakeClock) -> AsyncIterator[OpenStore]:
    """Opens stores on the same database (like several instances); closes them all after."""
    opened: list[Store] = []

    async def opener() -> Store:
        store = await open_store(store_config, clock=clock)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_stores: OpenStore) -> Store:
    """One open store."""
    return await open_stores()


@pytest.fixture
def ledger(store: Store, clock: FakeClock) -> PaymentLedger:
    """The ledger on the store."""
    return PaymentLedger(store, clock)


PAYER_NAME = "Nguyễn Văn An"
PAYER_ID = "092085000123"


def bill(
    client_id: str = "one-stop",
    amount: int = 150_000,
    ttl: timedelta = timedelta(minutes=15),
    provider: str = "dvcqg",
) -> Callable[[PaymentIdentity], Payment]:
    """A builder for a typical fee bill."""

    def build(identity: PaymentIdentity) -> Payment:
        return Payment(
            id=identity.id,
            reference=identity.reference,
            client_id=client_id,
            provider=provider,
            status=PaymentStatus.CREATED,
            amount=amount,
            currency="VND",
            dossier_code="000.00.01.H13-260301-0001",
            procedure_code="1.001612",
            agency_code="000.00.01.H13",
            fee_lines=[
                {"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "SoTien": amount}
            ],
            return_url="http://127.0.0.1:8080/return",
            created_at=identity.created_at,
            updated_at=identity.created_at,
            expires_at=identity.created_at + ttl,
            payer_name=PAYER_NAME,
            payer_id_number=PAYER_ID,
        )

    return build


async def new_payment(
    ledger: PaymentLedger,
    client_id: str = "one-stop",
    amount: int = 150_000,
    ttl: timedelta = timedelta(minutes=15),
) -> Payment:
    """Create one payment under a fresh idempotency key."""
    payment, _ = await ledger.create(
        client_id, "key-" + secrets.token_hex(8), "fp", bill(client_id, amount, ttl)
    )
    return payment


async def events_of(store: Store, payment_id: str) -> list[dict[str, Any]]:
    """The outbox rows of one payment, in version order."""
    return await store.fetch_all(
        "SELECT * FROM outbox_events WHERE payment_id = $1 ORDER BY payment_version", payment_id
    )
