"""The audit writer of one chain: a hash chain in the store, appended cheaply.

``append`` puts the record on an in-process queue; one writer task takes
whatever has queued up (up to ``max_batch``), chains it (``seq`` and
``prev_digest`` strictly sequential per instance) and inserts it in one
transaction. Many concurrent requests therefore share one commit, and every
write of the chain (records, checkpoints) goes through that one writer, one
commit at a time.

What a crash can lose depends on ``AuditConfig.durability``:

* ``buffered`` (the default): ``append`` returns at once; the middleware appends
  before the answer leaves, so a record is queued before its request is
  answered. A batch is committed once ``max_delay_seconds`` (default 0.01 s)
  have passed since its first record was appended (at once when it is full, or
  somebody waits), as soon as the commit in progress has finished. So a record
  is committed within ``max(max_delay_seconds, the rest of the commit running
  when it was appended) + the duration of its own commit`` of being appended:
  at most ``max_delay_seconds`` plus two commits, while fewer than ``max_batch``
  records wait ahead of it (each further ``max_batch`` adds a commit: a batch
  takes at most that many). A crash loses only records
  appended less than that before it (``lienthong_audit_commit_seconds`` shows
  what a commit takes; on SQLite it includes waiting for the store's one writer
  connection). Issue #5 asks that appending cost a request only a small
  fraction of its time; waiting for a commit (an fsync on SQLite) cost a
  verification 2 to 15 ms at the median under load, several times the rest of
  its work.
* ``commit``: ``append`` returns only once its record is committed, so every
  answered request has its record; a crash loses only records of requests that
  were never answered. For deployments that put a complete record above latency.

Either way the chain itself stays intact: records are chained and committed
together, and the in-memory head moves only after a commit.

Checkpoints (an Ed25519 signature over the head) are written in the writer's own
transactions: with the batch that brings the records not yet covered to
``checkpoint_records``, at least every ``checkpoint_interval_seconds`` while
records come in (:mod:`.checkpoints` asks for those), and with the ``audit.stop``
record at :meth:`AuditWriter.stop`.
A start-up that finds the chain not ended by a checkpointed ``audit.stop``
(a crash, a kill, or a tail cut off while the instance was down) appends and
checkpoints an ``audit.resume`` record naming the head it found and the newest
checkpoint, before anything else is appended; ``audit verify`` lists these
interruptions. What this proves (:mod:`.chain`): removing records up to the
newest checkpoint is detected; after a crash, at most the last
``checkpoint_records - 1`` committed records (of at most the last
``checkpoint_interval_seconds`` plus a batch) were not yet covered by a
checkpoint, and the resume record states how many. Each instance must have its
own ``instance_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, Unpack

import structlog
from prometheus_client import Counter, Histogram

from adapters.aliases import Monotonic
from adapters.observability import label_child
from gateway.audit.config import AuditConfig
from gateway.audit.null import RecordFields
from gateway.audit.record import (
    GENESIS_DIGEST,
    RECORD_COLUMNS,
    RESUME_OPERATION,
    STOP_OPERATION,
    AuditRecord,
    body_digest,
    masked,
)
from gateway.audit.signing import AuditKeys, Checkpoint, sign_checkpoint
from gateway.errors import InternalFault
from gateway.store import Clock, Store, Transaction, to_us

_log = structlog.get_logger("audit")

AUDIT_RECORDS = Counter("lienthong_audit_records_total", "Audit records committed", ["kind"])
AUDIT_FAILURES = Counter(
    "lienthong_audit_append_failures_total", "Audit records that could not be committed"
)
AUDIT_COMMIT_SECONDS = Histogram(
    "lienthong_audit_commit_seconds",
    "One commit of the audit writer, waiting for the store's write connection included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_ROWS_PER_INSERT = 50


class AuditLogClosed(InternalFault, RuntimeError):
    """``append`` was called on an audit log that is not running."""


@dataclass
class _Entry:
    """A record waiting for its place in the chain."""

    time_us: int
    kind: str
    operation: str
    outcome: str
    client_id: str | None
    status: int | None
    request_id: str | None
    request_digest: str | None
    response_digest: str | None
    subject_digests: tuple[str, ...]
    masked_ids: tuple[str, ...]
    detail: dict[str, Any]

    def chained(self, instance: str, seq: int, prev_digest: str) -> AuditRecord:
        draft = AuditRecord(
            seq=seq,
            instance=instance,
            time_us=self.time_us,
            kind=self.kind,
            operation=self.operation,
            outcome=self.outcome,
            prev_digest=prev_digest,
            digest="",
            client_id=self.client_id,
            status=self.status,
            request_id=self.request_id,
            request_digest=self.request_digest,
            response_digest=self.response_digest,
            subject_digests=self.subject_digests,
            masked_ids=self.masked_ids,
            detail=self.detail,
        )
        return AuditRecord(**{**draft.__dict__, "digest": draft.computed_digest()})

    @classmethod
    def lifecycle(cls, time_us: int, operation: str, detail: dict[str, Any]) -> _Entry:
        """One of the writer's own records (``audit.stop``, ``audit.resume``)."""
        outcome = "ok" if operation == STOP_OPERATION else "unclean"
        return cls.own(time_us, "lifecycle", operation, outcome, detail)

    @classmethod
    def own(
        cls, time_us: int, kind: str, operation: str, outcome: str, detail: dict[str, Any]
    ) -> _Entry:
        """A record the audit log writes about itself: no client, request or subject."""
        return cls(
            time_us=time_us,
            kind=kind,
            operation=operation,
            outcome=outcome,
            client_id=None,
            status=None,
            request_id=None,
            request_digest=None,
            response_digest=None,
            subject_digests=(),
            masked_ids=(),
            detail=detail,
        )


@dataclass
class _Pending:
    """One item of the writer's queue: a record, or (``entry`` None) a marker somebody waits
    on: a flush, or a checkpoint request (``checkpoint``)."""

    entry: _Entry | None
    done: asyncio.Future[Any] | None = None
    #: The monotonic time it was appended: a batch's delay counts from its first record's.
    queued_at: float = 0.0
    checkpoint: bool = False


@dataclass
class _Head:
    seq: int = 0
    digest: str = GENESIS_DIGEST
    checkpointed_seq: int = 0


class StartStop(ABC):
    """``async with``: started on entry, stopped on exit (the writer, the audit log)."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class AuditWriter(StartStop):
    """Appends to the audit chain of one instance and checkpoints it, one commit at a time."""

    def __init__(
        self,
        store: Store,
        config: AuditConfig,
        instance_id: str,
        keys: AuditKeys,
        *,
        clock: Clock | None = None,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.store = store
        self.config = config
        self.instance_id = instance_id
        self.keys = keys
        self._clock = clock or store.clock
        self._monotonic = monotonic
        self._head = _Head()
        self._chain_lock = asyncio.Lock()
        self._queue: asyncio.Queue[_Pending | None] | None = None
        #: Wakes a lingering writer: a batch is full, a flush, checkpoint or stop is queued.
        self._wake = asyncio.Event()
        #: Markers (flushes, checkpoint requests) queued and not yet taken by the writer, and
        #: whether stop() was called: either means somebody waits, so the writer does not linger.
        self._markers = 0
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    def subject_digest(self, id_number: str) -> str:
        """The keyed digest under which ``id_number`` appears in records (for matching)."""
        return self.keys.subject_digest(id_number)

    # -- life cycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._writer is not None and not self._writer.done()

    async def start(self) -> None:
        """Load the chain head, record an unclean end if there was one, start the writer.

        When the stored chain does not end with a checkpointed ``audit.stop`` record, an
        ``audit.resume`` record naming what was found is committed with a checkpoint
        before this returns (so before the first request is answered); when that commit
        fails (another process with the same ``instance_id`` appended meanwhile, say) it is
        logged and counted and the start goes on. The tables come from the store's
        migration ``0100_audit``."""
        if not self.config.enabled or self.running:
            return
        self.keys.subject_key  # noqa: B018  # fail at start-up, not on the first request
        head = await self.store.fetch_one(
            "SELECT seq, digest, kind, operation FROM audit_records WHERE instance = $1"
            " ORDER BY seq DESC LIMIT 1",
            self.instance_id,
        )
        cp = await self.store.fetch_one(
            "SELECT MAX(seq) AS seq, MAX(CASE WHEN seq <= $2 THEN seq END) AS covered"
            " FROM audit_checkpoints WHERE instance = $1",
            self.instance_id,
            int(head["seq"]) if head else 0,
        )
        newest = int(cp["seq"]) if cp and cp["seq"] is not None else 0
        self._head = _Head(
            seq=int(head["seq"]) if head else 0,
            digest=str(head["digest"]) if head else GENESIS_DIGEST,
            checkpointed_seq=int(cp["covered"]) if cp and cp["covered"] is not None else 0,
        )
        clean = head is None or (
            head["kind"] == "lifecycle"
            and head["operation"] == STOP_OPERATION
            and self._head.checkpointed_seq == self._head.seq
            and newest == self._head.seq
        )
        if not clean:
            try:
                await self._resume(newest)
            except Exception as exc:  # the gateway still starts; the failure is logged
                AUDIT_FAILURES.inc()
                _log.error(
                    "audit.resume_not_recorded",
                    instance=self.instance_id,
                    error=type(exc).__name__,
                )
        self._queue = asyncio.Queue(maxsize=self.config.queue_size)
        self._markers, self._closing = 0, False
        self._writer = asyncio.create_task(self._write_forever(), name="audit-writer")
        _log.info("audit.started", instance=self.instance_id, head_seq=self._head.seq)

    async def _resume(self, newest_checkpoint: int) -> None:
        """The previous run did not stop cleanly: say so in the chain, signed at once.

        A checkpoint beyond the head found means records it signed were removed since;
        the resume record names it (``checkpoint_beyond_head_seq``)."""
        head = self._head
        detail: dict[str, Any] = {
            "previous_head_seq": head.seq,
            "previous_head_digest": head.digest,
            "checkpointed_seq": head.checkpointed_seq,
            "unprotected_records": head.seq - head.checkpointed_seq,
        }
        if newest_checkpoint > head.seq:
            detail["checkpoint_beyond_head_seq"] = newest_checkpoint
        entry = _Entry.lifecycle(to_us(self._clock()), RESUME_OPERATION, detail)
        async with self._chain_lock:
            await self._commit([entry], checkpoint=True)
        _log.warning("audit.resumed_after_unclean_stop", instance=self.instance_id, **detail)

    async def stop(self) -> None:
        """Write everything queued, stop the writer, then commit an ``audit.stop`` record
        and the final checkpoint over it in one transaction.

        When that commit fails (the store is gone, or another process took the seq: two
        instances sharing an ``instance_id``) the failure is logged and counted, not
        raised: without a stop record the next start records an unclean end."""
        if self._writer is None or self._queue is None:
            return
        self._closing = True
        await self._queue.put(None)
        self._wake.set()
        await self._writer
        self._writer = None
        entry = _Entry.lifecycle(to_us(self._clock()), STOP_OPERATION, {})
        try:
            async with self._chain_lock:
                await self._commit([entry], checkpoint=True)
        except Exception as exc:  # shutdown goes on; the next start records an unclean end
            AUDIT_FAILURES.inc()
            _log.error(
                "audit.stop_not_recorded", instance=self.instance_id, error=type(exc).__name__
            )
            return
        _log.info("audit.stopped", instance=self.instance_id, head_seq=self._head.seq)

    # -- appending --------------------------------------------------------------------------

    async def append(self, **fields: Unpack[RecordFields]) -> None:
        """Queue one record (bodies are digested here, ids digested and masked here).

        With ``durability = "commit"`` this returns once the record is committed.
        """
        if not self.config.enabled:
            return
        if self._queue is None or not self.running:
            raise AuditLogClosed("the audit log is not running")
        ids = sorted({i for i in fields.get("id_numbers", ()) if i})
        entry = _Entry(
            time_us=to_us(self._clock()),
            kind=fields["kind"],
            operation=fields["operation"],
            outcome=fields["outcome"],
            client_id=fields.get("client_id"),
            status=fields.get("status"),
            request_id=fields.get("request_id"),
            request_digest=fields.get("request_digest") or body_digest(fields.get("request_body")),
            response_digest=(
                fields.get("response_digest") or body_digest(fields.get("response_body"))
            ),
            subject_digests=tuple(self.subject_digest(i) for i in ids),
            masked_ids=tuple(masked(i) for i in ids),
            detail=dict(fields.get("detail") or {}),
        )
        if self.config.durability == "buffered":
            await self._queue.put(_Pending(entry, queued_at=self._monotonic()))
            if self._queue.qsize() >= self.config.max_batch:
                self._wake.set()
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(entry, done, queued_at=self._monotonic()))
        await done

    async def flush(self) -> None:
        """Return once everything queued before this call is committed (or failed)."""
        await self._marker(checkpoint=False)

    async def _marker(self, *, checkpoint: bool) -> Any:
        """Queue a marker somebody waits on and wait for the writer to reach it."""
        if self._queue is None or not self.running:
            return None
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._markers += 1
        await self._queue.put(
            _Pending(None, done, queued_at=self._monotonic(), checkpoint=checkpoint)
        )
        self._wake.set()
        return await done

    async def _write_forever(self) -> None:
        assert self._queue is not None
        stopping = False
        while not stopping:
            item = await self._queue.get()
            if item is None:
                break
            await self._linger(item)
            batch = [item]
            while len(batch) < self.config.max_batch and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._markers -= sum(1 for pending in batch if pending.entry is None)
            await self._write_batch(batch)

    async def _linger(self, first: _Pending) -> None:
        """Buffered records: let the batch fill (one commit, one fsync on SQLite, for all of
        them) until ``max_delay_seconds`` after its first record was appended, unless
        somebody waits for it or it is full. Time the first record spent queued behind the
        previous commit counts: a record never waits for the delay after that commit."""
        delay = self.config.max_delay_seconds
        assert self._queue is not None
        if (
            delay <= 0
            or first.done is not None  # durability "commit", or a marker: somebody waits
            or self._markers
            or self._closing
            or self._queue.qsize() + 1 >= self.config.max_batch  # a backlog: no waiting
        ):
            return
        remaining = first.queued_at + delay - self._monotonic()
        if remaining <= 0:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await self._wake.wait()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        entries = [p.entry for p in batch if p.entry is not None]
        wants_checkpoint = any(p.checkpoint for p in batch)
        error: BaseException | None = None
        signed: Checkpoint | None = None
        if entries or wants_checkpoint:
            try:
                async with self._chain_lock:
                    signed = await self._commit(entries, checkpoint=wants_checkpoint)
            except Exception as exc:  # the writer outlives a failed batch; callers hear of it
                error = exc
                AUDIT_FAILURES.inc(len(entries))
                _log.error(
                    "audit.append_failed",
                    instance=self.instance_id,
                    records=len(entries),
                    error=type(exc).__name__,
                )
        for pending in batch:
            if pending.done is None or pending.done.done():
                continue
            if error is not None and (pending.entry is not None or pending.checkpoint):
                pending.done.set_exception(error)
            else:
                pending.done.set_result(signed if pending.checkpoint else None)

    async def _commit(
        self, entries: list[_Entry], *, checkpoint: bool = False
    ) -> Checkpoint | None:
        """Chain ``entries`` after the head and insert them in one transaction (lock held).

        The same transaction carries a checkpoint over the new head when one is asked for
        (and there is something new to sign) or when the records not yet covered by a
        checkpoint reach ``checkpoint_records``; it is returned (None without one)."""
        started = time.perf_counter()
        head = self._head
        seq, digest = head.seq, head.digest
        records: list[AuditRecord] = []
        for entry in entries:
            seq += 1
            record = entry.chained(self.instance_id, seq, digest)
            digest = record.digest
            records.append(record)
        uncovered = seq - head.checkpointed_seq
        cp: Checkpoint | None = None
        if uncovered > 0 and (checkpoint or uncovered >= self.config.checkpoint_records):
            cp = sign_checkpoint(
                self.keys.signing_key, self.instance_id, seq, digest, to_us(self._clock())
            )
        async with self.store.transaction() as tx:
            if records:
                await insert_records(tx, records)
            if cp is not None:
                await insert_checkpoint(tx, cp)
        AUDIT_COMMIT_SECONDS.observe(time.perf_counter() - started)
        head.seq, head.digest = seq, digest
        for record in records:
            label_child(AUDIT_RECORDS, record.kind).inc()
        if cp is not None:
            head.checkpointed_seq = seq
            _log.info(
                "audit.checkpoint",
                instance=cp.instance,
                seq=cp.seq,
                head_digest=cp.head_digest,
                key_id=cp.key_id,
                checkpoint_signature=cp.signature,
            )
        return cp

    # -- checkpoints (the ticker in .checkpoints asks for them) ----------------------------

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the current head (None when nothing was appended since the last checkpoint).

        While the writer runs, the request goes through its queue: the checkpoint covers
        everything appended before this call and shares the writer's next transaction."""
        if not self.config.enabled:
            return None
        if self.running:
            signed: Checkpoint | None = await self._marker(checkpoint=True)
            return signed
        async with self._chain_lock:
            return await self._commit([], checkpoint=True)

    # -- the chain held (for .archive) -------------------------------------------------------

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Everything appended before is committed and nothing else is until the block ends
        (the chain lock is held): for :meth:`commit_alone`."""
        if not self.running:
            raise AuditLogClosed("the audit log is not running")
        await self.flush()
        async with self._chain_lock:
            yield

    async def commit_alone(
        self,
        kind: str,
        operation: str,
        detail: dict[str, Any],
        also: Callable[[Transaction], Awaitable[None]],
    ) -> AuditRecord:
        """Inside :meth:`held`: chain one of the audit log's own records after the head and
        commit it in one transaction with ``also`` (no checkpoint)."""
        entry = _Entry.own(to_us(self._clock()), kind, operation, "ok", detail)
        record = entry.chained(self.instance_id, self._head.seq + 1, self._head.digest)
        async with self.store.transaction() as tx:
            await insert_records(tx, [record])
            await also(tx)
        self._head.seq, self._head.digest = record.seq, record.digest
        label_child(AUDIT_RECORDS, record.kind).inc()
        return record


async def insert_checkpoint(tx: Transaction, cp: Checkpoint) -> None:
    await tx.execute(
        "INSERT INTO audit_checkpoints (instance, seq, head_digest, time_us, key_id, signature)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (instance, seq) DO NOTHING",
        cp.instance,
        cp.seq,
        cp.head_digest,
        cp.time_us,
        cp.key_id,
        cp.signature,
    )


async def insert_records(tx: Transaction, records: list[AuditRecord]) -> None:
    width = len(RECORD_COLUMNS)
    columns = ", ".join(RECORD_COLUMNS)
    for start in range(0, len(records), _ROWS_PER_INSERT):
        chunk = records[start : start + _ROWS_PER_INSERT]
        groups = []
        params: list[Any] = []
        for n, record in enumerate(chunk):
            base = n * width
            groups.append("(" + ", ".join(f"${base + i + 1}" for i in range(width)) + ")")
            params.extend(record.row_values())
        await tx.execute(
            f"INSERT INTO audit_records ({columns}) VALUES {', '.join(groups)}",  # noqa: S608
            *params,
        )
