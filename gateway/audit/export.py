"""Reading the chains back: verification over the store, and JSON-lines export for auditors.

Both are plain functions of the store and the keys (:class:`~gateway.audit.signing.AuditKeys`
or its keyring): nothing is appended, so no writer runs and no instance is named.

An export is one JSON object a line: first a ``header`` (format, period, the
signing key's Ed25519 public key PEM and its key id, every public key trusted
by key id, previous ones included, how digests are computed), then every
``record`` of the period ordered by instance and ``seq``, then the period's
``checkpoint`` lines. :func:`verify_export` checks such a file on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from gateway.audit.chain import VerifyReport
from gateway.audit.record import AuditRecord
from gateway.audit.signing import (
    AuditKeyring,
    AuditKeys,
    Checkpoint,
    key_id,
    keyring,
    load_public_key,
    public_key_pem,
)
from gateway.store import Store, to_us

EXPORT_FORMAT = "lienthong-audit/1"
_PAGE = 1000


async def _instances(store: Store) -> list[str]:
    rows = await store.fetch_all(
        "SELECT instance FROM audit_records UNION SELECT instance FROM audit_checkpoints"
    )
    return sorted(str(r["instance"]) for r in rows)


async def _records_from(store: Store, instance: str, first_seq: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    after = first_seq - 1
    while True:
        rows = await store.fetch_all(
            "SELECT * FROM audit_records WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            instance,
            after,
            _PAGE,
        )
        records.extend(AuditRecord.from_row(r) for r in rows)
        if len(rows) < _PAGE:
            return records
        after = records[-1].seq


async def verify_audit_log(
    store: Store,
    keys: AuditKeyring,
    *,
    since: datetime | None = None,
    archive_dir: Path | None = None,
) -> VerifyReport:
    """Verify every chain in the store (from the first record at or after ``since``).

    Each checkpoint is verified under the key of ``keys`` its ``key_id`` names."""
    report = VerifyReport()
    for instance in await _instances(store):
        first_seq = 1
        last_when_empty = 0
        if since is not None:
            row = await store.fetch_one(
                "SELECT MIN(seq) AS first, (SELECT MAX(seq) FROM audit_records"
                " WHERE instance = $1) AS last FROM audit_records"
                " WHERE instance = $1 AND time_us >= $2",
                instance,
                to_us(since),
            )
            last = int(row["last"]) if row and row["last"] is not None else 0
            first_seq = int(row["first"]) if row and row["first"] is not None else last + 1
            last_when_empty = last
        records = await _records_from(store, instance, first_seq)
        rows = await store.fetch_all(
            "SELECT * FROM audit_checkpoints WHERE instance = $1 AND seq >= $2 ORDER BY seq",
            instance,
            first_seq if since is not None else 0,
        )
        checkpoints = [Checkpoint.from_row(r) for r in rows]
        report.check(
            instance,
            records,
            checkpoints,
            keys,
            trust_first_link=since is not None,
            archive_dir=archive_dir,
            last_seq_when_empty=last_when_empty,
        )
    return report


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n"


async def export_audit_log(
    store: Store,
    keys: AuditKeys,
    out: IO[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the records with ``since <= time < until`` (and the period's checkpoints);
    returns how many records.

    The header names the signing key's public key and lists every key of
    ``keys.verification_keys``, so that checkpoints signed before a rotation verify too."""
    public_key = keys.public_key
    low = to_us(since) if since is not None else -(2**62)
    high = to_us(until) if until is not None else 2**62
    out.write(
        _line(
            {
                "type": "header",
                "format": EXPORT_FORMAT,
                "since_us": None if since is None else low,
                "until_us": None if until is None else high,
                "public_key_pem": public_key_pem(public_key),
                "key_id": key_id(public_key),
                "public_keys": {
                    kid: public_key_pem(key) for kid, key in keys.verification_keys.items()
                },
                "record_digest": "sha256 of canonical JSON of the record without seq and digest,"
                " plus v=1 (gateway/audit/record.py)",
                "checkpoint_signature": "Ed25519 over canonical JSON of"
                " {instance, seq, head_digest, time_us}",
            }
        )
    )
    count = 0
    for instance in await _instances(store):
        after = 0
        while True:
            rows = await store.fetch_all(
                "SELECT * FROM audit_records WHERE instance = $1 AND seq > $2"
                " AND time_us >= $3 AND time_us < $4 ORDER BY seq LIMIT $5",
                instance,
                after,
                low,
                high,
                _PAGE,
            )
            for row in rows:
                record = AuditRecord.from_row(row)
                out.write(_line({"type": "record", **record.to_json()}))
                after = record.seq
            count += len(rows)
            if len(rows) < _PAGE:
                break
        for row in await store.fetch_all(
            "SELECT * FROM audit_checkpoints WHERE instance = $1 AND time_us >= $2"
            " AND time_us < $3 ORDER BY seq",
            instance,
            low,
            high,
        ):
            out.write(_line({"type": "checkpoint", **Checkpoint.from_row(row).to_json()}))
    return count


def verify_export(lines: Iterable[str], keys: AuditKeyring | None = None) -> VerifyReport:
    """Verify an export file's lines (under ``keys``, else the header's keys)."""
    header: dict[str, Any] = {}
    records: dict[str, list[AuditRecord]] = {}
    checkpoints: dict[str, list[Checkpoint]] = {}
    for line in lines:
        if not line.strip():
            continue
        obj = json.loads(line)
        kind = obj.pop("type")
        if kind == "header":
            header = obj
        elif kind == "record":
            record = AuditRecord.from_json(obj)
            records.setdefault(record.instance, []).append(record)
        elif kind == "checkpoint":
            cp = Checkpoint(**obj)
            checkpoints.setdefault(cp.instance, []).append(cp)
    if keys is None:
        pems = header.get("public_keys") or {"": header["public_key_pem"]}
        keys = keyring(load_public_key(str(pem).encode()) for pem in pems.values())
    report = VerifyReport()
    for instance in sorted(set(records) | set(checkpoints)):
        chain = sorted(records.get(instance, []), key=lambda r: r.seq)
        cps = checkpoints.get(instance, [])
        report.check(instance, chain, cps, keys, trust_first_link=bool(chain) and chain[0].seq != 1)
    return report
