"""Report fixtures: the audit and store suites' own (both backends), and a known quarter."""

from __future__ import annotations

from tests.audit.conftest import audit_config, audit_log
from tests.store.conftest import backend, clock, open_stores, store, store_config

__all__ = [
    "audit_config",
    "audit_log",
    "backend",
    "clock",
    "open_stores",
    "store",
    "store_config",
]
