"""The gateway's store: one interface, two backends (SQLite by default, PostgreSQL to scale out).

>>> store = await open_store(StoreConfig(url="sqlite:///var/lienthong.db"))
>>> async with store.transaction() as tx:
...     await tx.execute("UPDATE payments SET ... WHERE id = $1 AND status = $2", ...)

Migrations are applied when the store opens. See :mod:`gateway.store.base`
for the interface and the stored time format.
"""

from __future__ import annotations

from gateway.store.base import (
    Clock,
    Dialect,
    Row,
    Store,
    StoreError,
    Transaction,
    from_us,
    to_us,
    utc_now,
)
from gateway.store.config import StoreConfig

__all__ = [
    "Clock",
    "Dialect",
    "Row",
    "Store",
    "StoreConfig",
    "StoreError",
    "Transaction",
    "from_us",
    "open_store",
    "to_us",
    "utc_now",
]


async def open_store(config: StoreConfig, *, clock: Clock = utc_now) -> Store:
    """Open the configured backend and bring its schema up to date."""
    if config.dialect == "sqlite":
        from gateway.store.sqlite import SQLiteStore

        return await SQLiteStore.open(config, clock)
    from gateway.store.postgres import PostgresStore

    return await PostgresStore.open(config, clock)
