"""The whole gateway, driven over loopback through the real sandbox peers.

Each test gets its own sandboxes (population SOAP, NGSP REST) on free ports,
and a gateway started by the same code ``lienthong run`` uses, configured
from the embedded default with its endpoints pointed at those sandboxes
(tests/support/gateway.py's ``e2e_gateway``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
