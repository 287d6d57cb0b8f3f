"""The running gateway's audit log: its keys, its writer and its checkpoint ticker.

:class:`AuditLog` only composes them, so that the app and the operator chains start,
use and stop one object: appending and checkpointing are :mod:`.writer`'s, the ticker
:mod:`.checkpoints`', the keys :class:`~gateway.audit.signing.AuditKeys`. Verifying and
exporting the store's chains (:mod:`.export`) and archiving (:mod:`.archive`) are
functions of their own that need none of this running.
"""

from __future__ import annotations

import asyncio
import time
from typing import Unpack

from cryptography.hazmat.primitives.asymmetric import ed25519

from adapters.aliases import Monotonic, Sleep
from gateway.audit.checkpoints import CheckpointTicker
from gateway.audit.config import AuditConfig
from gateway.audit.null import RecordFields
from gateway.audit.signing import AuditKeys, Checkpoint
from gateway.audit.writer import AuditWriter, StartStop
from gateway.store import Clock, Store


class AuditLog(StartStop):
    """One instance's audit chain while the gateway runs: the writer and its ticker."""

    def __init__(
        self,
        store: Store,
        config: AuditConfig,
        instance_id: str,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
        signing_key: ed25519.Ed25519PrivateKey | None = None,
    ) -> None:
        self.keys = AuditKeys(config, signing_key)
        self.writer = AuditWriter(
            store, config, instance_id, self.keys, clock=clock, monotonic=monotonic
        )
        self.ticker = CheckpointTicker(self.writer, sleep=sleep)

    @property
    def store(self) -> Store:
        return self.writer.store

    @property
    def config(self) -> AuditConfig:
        return self.writer.config

    @property
    def instance_id(self) -> str:
        return self.writer.instance_id

    @property
    def running(self) -> bool:
        return self.writer.running

    def subject_digest(self, id_number: str) -> str:
        """The keyed digest under which ``id_number`` appears in records (for matching)."""
        return self.keys.subject_digest(id_number)

    async def append(self, **fields: Unpack[RecordFields]) -> None:
        """Queue one record (:meth:`AuditWriter.append`)."""
        await self.writer.append(**fields)

    async def flush(self) -> None:
        """Return once everything queued before this call is committed (or failed)."""
        await self.writer.flush()

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (:meth:`AuditWriter.checkpoint`)."""
        return await self.writer.checkpoint()

    async def start(self) -> None:
        """Start the writer (:meth:`AuditWriter.start`), then the ticker."""
        await self.writer.start()
        if self.writer.running:
            self.ticker.start()

    async def stop(self) -> None:
        """Stop the ticker, then the writer (its ``audit.stop`` record and last checkpoint)."""
        await self.ticker.stop()
        await self.writer.stop()
