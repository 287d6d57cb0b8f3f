"""The checkpoint ticker: asks the audit writer for a checkpoint at least every
``checkpoint_interval_seconds`` while the gateway runs.

The checkpoint itself (an Ed25519 signature over the chain head, in the writer's next
transaction, nothing when no record came since the last one) is
:meth:`gateway.audit.writer.AuditWriter.checkpoint`; this module only keeps time.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from adapters.aliases import Sleep
from gateway.audit.writer import AuditWriter

_log = structlog.get_logger("audit")


class CheckpointTicker:
    """One task: sleep the interval, ask ``writer`` for a checkpoint, again until stopped."""

    def __init__(self, writer: AuditWriter, *, sleep: Sleep = asyncio.sleep) -> None:
        self._writer = writer
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._tick_forever(), name="audit-checkpoints")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _tick_forever(self) -> None:
        while True:
            await self._sleep(self._writer.config.checkpoint_interval_seconds)
            try:
                await self._writer.checkpoint()
            except Exception:  # the next tick tries again; this one is logged
                _log.exception("audit.checkpoint_failed", instance=self._writer.instance_id)
