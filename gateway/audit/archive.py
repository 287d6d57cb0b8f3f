"""Retention: moving an instance's oldest records out of the store into a gzip file.

The file's SHA-256 and the last archived record's digest are carried into the chain
by an ``archive`` record, committed with the deletion, so the remaining chain still
verifies (:mod:`.chain` checks the file too when it is in ``archive_dir``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog

from gateway.audit.config import AuditConfig
from gateway.audit.record import AuditRecord
from gateway.audit.signing import AuditKeys
from gateway.audit.writer import AuditWriter
from gateway.store import Clock, Store, Transaction, to_us

_log = structlog.get_logger("audit")

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ArchiveResult:
    """What :func:`archive` moved out of the store."""

    file: Path
    sha256: str
    first_seq: int
    last_seq: int
    count: int
    archive_seq: int


async def archive(writer: AuditWriter, older_than: datetime) -> ArchiveResult | None:
    """Move ``writer``'s instance's records older than ``older_than`` to a gzip file
    (None when there are none); ``writer`` must be running."""
    store, instance = writer.store, writer.instance_id
    async with writer.held():
        row = await store.fetch_one(
            "SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit_records"
            " WHERE instance = $1 AND time_us < $2",
            instance,
            to_us(older_than),
        )
        if row is None or row["last"] is None:
            return None
        first_stored = await store.fetch_one(
            "SELECT MIN(seq) AS seq FROM audit_records WHERE instance = $1", instance
        )
        assert first_stored is not None
        first, last = int(first_stored["seq"]), int(row["last"])
        path, sha256, count, last_digest = await _write_archive_file(
            store, writer.config.archive_dir, instance, first, last
        )

        async def delete_archived(tx: Transaction) -> None:
            await tx.execute(
                "DELETE FROM audit_records WHERE instance = $1 AND seq <= $2", instance, last
            )

        record = await writer.commit_alone(
            "archive",
            "audit.archive",
            {
                "file": path.name,
                "sha256": sha256,
                "first_seq": first,
                "last_seq": last,
                "count": count,
                "last_digest": last_digest,
            },
            delete_archived,
        )
    _log.info(
        "audit.archived",
        instance=instance,
        file=path.name,
        first_seq=first,
        last_seq=last,
        count=count,
        archive_sha256=sha256,
    )
    return ArchiveResult(path, sha256, first, last, count, record.seq)


async def archive_instance(
    store: Store, config: AuditConfig, instance_id: str, older_than: datetime, *, clock: Clock
) -> ArchiveResult | None:
    """:func:`archive` for an instance that is not running here (``lienthong audit
    archive``): its writer is started for the archive record and stopped after it, so
    the chain records an unclean end it finds and ends with a checkpointed stop."""
    async with AuditWriter(store, config, instance_id, AuditKeys(config), clock=clock) as writer:
        return await archive(writer, older_than)


async def _write_archive_file(
    store: Store, directory: Path, instance: str, first: int, last: int
) -> tuple[Path, str, int, str]:
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    name = f"audit-{_SAFE_NAME.sub('_', instance)}-{first:012d}-{last:012d}.jsonl.gz"
    path = directory / name
    temporary = directory / f".{name}.tmp"
    count, last_digest, after = 0, "", first - 1
    with gzip.GzipFile(temporary, "wb", mtime=0) as out:
        while after < last:
            rows = await store.fetch_all(
                "SELECT * FROM audit_records WHERE instance = $1 AND seq > $2 AND seq <= $3"
                " ORDER BY seq LIMIT 1000",
                instance,
                after,
                last,
            )
            if not rows:
                break
            lines = []
            for row in rows:
                record = AuditRecord.from_row(row)
                lines.append(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                after, last_digest = record.seq, record.digest
            count += len(rows)
            await asyncio.to_thread(out.write, "".join(lines).encode("utf-8"))
    sha256 = hashlib.sha256(await asyncio.to_thread(temporary.read_bytes)).hexdigest()
    temporary.replace(path)
    return path, sha256, count, last_digest
