"""One audit record, its canonical form and its digest.

A record's ``digest`` is the lowercase hex SHA-256 of its canonical JSON: the
object below, keys sorted, no whitespace (``separators=(",", ":")``), UTF-8,
non-ASCII kept as is::

    {"v": 1, "instance", "time_us", "kind", "client_id", "operation", "outcome",
     "status", "request_id", "request_digest", "response_digest",
     "subject_digests", "masked_ids", "detail", "prev_digest"}

``seq`` is deliberately *not* hashed: the order of a chain is carried by
``prev_digest`` (the digest of the record before; 64 zeros for the first),
while ``seq`` is the storage index that makes gaps, insertions and swaps
nameable. Personal ids appear only as ``subject_digests`` (HMAC-SHA256 under
the audit digest key, hex: matchable by whoever holds the key) and
``masked_ids`` (``092*******34``); bodies only as SHA-256 digests.

Trace context (W3C ``trace_id``, ``span_id``, an upstream exchange's ``span_ids``)
travels in ``detail`` (:mod:`gateway.audit.middleware` says which record kinds carry
what). Adding it there, rather than as new top-level keys, keeps this canonical
object, its format version and every stored chain as they were: ``detail`` is
digested whatever keys it holds, so the new fields are covered by the chain, and a
record written before them hashes exactly as it did (pinned by a test).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gateway.jsoncodec import canonical_json
from gateway.logging import mask_id

RecordKind = Literal[
    "inbound", "upstream", "callback", "webhook", "operator", "archive", "lifecycle"
]
RECORD_KINDS: tuple[str, ...] = (
    "inbound",
    "upstream",
    "callback",
    "webhook",
    "operator",
    "archive",
    "lifecycle",
)

#: ``upstream`` records are written no more: a request's upstream exchanges are folded into
#: its ``inbound`` record (``detail["upstream"]``, :mod:`gateway.audit.middleware`); chains
#: written before hold them, and they verify, export and are reported as they were.
#: ``lifecycle`` records: the writer's own. ``audit.stop`` ends a chain cleanly (signed by
#: a checkpoint in the same transaction); ``audit.resume`` starts the next run after an
#: end that was not a clean stop (a crash, a kill, or a cut tail) and says what it found:
#: ``detail = {"previous_head_seq", "previous_head_digest", "checkpointed_seq",
#: "unprotected_records"}``, also signed by a checkpoint in its own transaction.
STOP_OPERATION = "audit.stop"
RESUME_OPERATION = "audit.resume"

#: ``prev_digest`` of the first record of a chain.
GENESIS_DIGEST = "0" * 64
RECORD_FORMAT_VERSION = 1


def body_digest(body: bytes | None) -> str | None:
    """Hex SHA-256 of a message body (None when there was no body to see)."""
    return None if body is None else hashlib.sha256(body).hexdigest()


def normalise_id(value: str) -> str:
    """A personal id as digested: surrounding blanks removed (the digits are the id)."""
    return "".join(value.split())


def subject_digest(key: bytes, id_number: str) -> str:
    """The keyed digest of a personal id: hex HMAC-SHA256(key, id)."""
    return hmac.new(key, normalise_id(id_number).encode(), hashlib.sha256).hexdigest()


def masked(id_number: str) -> str:
    """The masked form recorded next to the digest (``092*******34``)."""
    return mask_id(normalise_id(id_number))


@dataclass(frozen=True)
class AuditRecord:
    """One audited exchange, as stored and exported."""

    seq: int
    instance: str
    time_us: int
    kind: str
    operation: str
    outcome: str
    prev_digest: str
    digest: str
    client_id: str | None = None
    status: int | None = None
    request_id: str | None = None
    request_digest: str | None = None
    response_digest: str | None = None
    subject_digests: tuple[str, ...] = ()
    masked_ids: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def hashed_content(self) -> dict[str, Any]:
        """The object whose canonical JSON is digested (everything but ``seq`` and ``digest``)."""
        return {
            "v": RECORD_FORMAT_VERSION,
            "instance": self.instance,
            "time_us": self.time_us,
            "kind": self.kind,
            "client_id": self.client_id,
            "operation": self.operation,
            "outcome": self.outcome,
            "status": self.status,
            "request_id": self.request_id,
            "request_digest": self.request_digest,
            "response_digest": self.response_digest,
            "subject_digests": list(self.subject_digests),
            "masked_ids": list(self.masked_ids),
            "detail": self.detail,
            "prev_digest": self.prev_digest,
        }

    def computed_digest(self) -> str:
        """What ``digest`` must be for this content."""
        return hashlib.sha256(canonical_json(self.hashed_content())).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The exported form (JSON-ready)."""
        out = asdict(self)
        out["subject_digests"] = list(self.subject_digests)
        out["masked_ids"] = list(self.masked_ids)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditRecord:
        """Back from :meth:`to_json` (export files, archive files)."""
        values = dict(data)
        values["subject_digests"] = tuple(values.get("subject_digests") or ())
        values["masked_ids"] = tuple(values.get("masked_ids") or ())
        values["detail"] = dict(values.get("detail") or {})
        return cls(**values)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditRecord:
        """From an ``audit_records`` row (list and object columns are JSON text)."""
        return cls(
            seq=int(row["seq"]),
            instance=str(row["instance"]),
            time_us=int(row["time_us"]),
            kind=str(row["kind"]),
            operation=str(row["operation"]),
            outcome=str(row["outcome"]),
            prev_digest=str(row["prev_digest"]),
            digest=str(row["digest"]),
            client_id=row["client_id"],
            status=None if row["status"] is None else int(row["status"]),
            request_id=row["request_id"],
            request_digest=row["request_digest"],
            response_digest=row["response_digest"],
            subject_digests=tuple(json.loads(row["subject_digests"])),
            masked_ids=tuple(json.loads(row["masked_ids"])),
            detail=json.loads(row["detail"]),
        )

    def row_values(self) -> tuple[Any, ...]:
        """The column values in :data:`RECORD_COLUMNS` order."""
        return (
            self.instance,
            self.seq,
            self.time_us,
            self.kind,
            self.client_id,
            self.operation,
            self.outcome,
            self.status,
            self.request_id,
            self.request_digest,
            self.response_digest,
            json.dumps(list(self.subject_digests)),
            json.dumps(list(self.masked_ids)),
            json.dumps(self.detail, ensure_ascii=False, sort_keys=True),
            self.prev_digest,
            self.digest,
        )


RECORD_COLUMNS = (
    "instance",
    "seq",
    "time_us",
    "kind",
    "client_id",
    "operation",
    "outcome",
    "status",
    "request_id",
    "request_digest",
    "response_digest",
    "subject_digests",
    "masked_ids",
    "detail",
    "prev_digest",
    "digest",
)
