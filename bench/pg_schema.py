"""A throwaway PostgreSQL schema for one benchmark run: made when the server answers,
dropped afterwards (the reconciliation, report and callback benches share these)."""

from __future__ import annotations

import secrets

from gateway.store import StoreConfig


async def postgres_config(dsn: str, prefix: str) -> StoreConfig | None:
    """A store config on a new schema ``<prefix><random>``, or None when ``dsn`` does not answer."""
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    await conn.close()
    return StoreConfig(url=dsn, schema_name=prefix + secrets.token_hex(4))


async def drop_schema(config: StoreConfig) -> None:
    """Drop the run's schema (nothing to do for a config without one)."""
    import asyncpg

    if config.schema_name is None:
        return
    conn = await asyncpg.connect(config.url, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{config.schema_name}" CASCADE')
    finally:
        await conn.close()
