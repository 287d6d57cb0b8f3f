"""The whole gateway, driven over loopback through the real sandbox peers.

Each test gets its own sandboxes (population SOAP, NGSP REST) on free ports,
and a gateway started by the same code ``lienthong run`` uses, configured
from the embedded default with its endpoints pointed at those sandboxes
(tests/support/gateway.py's ``e2e_gateway``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import StoreConfig, open_store
from tests.support.gateway import SECRETS, Gateway, e2e_gateway

#: Re-exported for tests/audit/test_crash.py (tests/audit/ is being reshaped elsewhere).
__all__ = ["SECRETS", "gateway"]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with e2e_gateway(
        tmp_path,
        security={
            "persist_interval_seconds": 0.1,
            "enumeration": {"min_distinct_ids": 5, "mismatch_rate": 0.5},
        },
    ) as gateway:
        yield gateway


async def audit_records_of(gateway: Gateway, request_id: str) -> list[dict[str, Any]]:
    """The audit records of one request, once the buffered writer has committed its inbound one."""
    store = await open_store(StoreConfig(url=gateway.settings.store.url))
    try:
        for _ in range(200):
            rows = await store.fetch_all(
                "SELECT * FROM audit_records WHERE request_id = ? ORDER BY seq", request_id
            )
            if any(r["kind"] == "inbound" for r in rows):
                return rows
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    raise AssertionError("no inbound audit record after 4 s")
