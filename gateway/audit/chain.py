"""Verifying a chain: which record was changed, removed, inserted or reordered.

The walk follows one instance's records in ``seq`` order and stops at the first
record that breaks the chain, naming it (only the first: everything after a
break is suspect anyway):

* ``changed`` — the record's content does not hash to its digest, its ``seq``
  was altered, or (when it was re-hashed) its successor was chained to other
  content;
* ``removed`` — a ``seq`` is missing and the next record is chained to a digest
  no stored record has (the named ``seq`` is the first missing one); at the
  start of a chain, records gone without an ``archive`` record accounting for
  them;
* ``inserted`` — a record no original record is chained to (its successor is
  chained past it);
* ``reordered`` — a record chained after one stored later than itself.

Checkpoints then add: ``checkpoint`` (the signature does not verify under the
key its ``key_id`` names), ``unverifiable`` (its ``key_id`` names no key the
verifier was given: not a sign of tampering, but nothing it claims is checked;
the report lists these apart), ``truncated`` (a checkpoint signed a ``seq`` beyond the last
stored record: the tail was cut off) and ``changed`` (the record a checkpoint
signed now has another digest: the chain was rewritten). Archive records add
``archive`` when their file, if present in the archive directory, does not
match the SHA-256 carried in the chain.

The writer's ``lifecycle`` records add two more: an ``audit.stop`` or
``audit.resume`` record without the checkpoint committed with it, and an
``audit.resume`` record naming a checkpoint that is gone, are ``checkpoint``
problems (checkpoints were deleted); a resume record that found a checkpoint
beyond the records left is ``truncated`` at the first record missing then.

What that proves about the tail. Records up to the newest checkpoint cannot be
removed undetected (``truncated``). Records after it are protected by the chain
only: cut off while the instance runs, the next record it appends names a
missing predecessor (``removed``); after a clean stop there are none (the
``audit.stop`` record is checkpointed). After a crash they are the records not
yet covered when the instance died (at most ``checkpoint_records - 1``, of at
most the last ``checkpoint_interval_seconds``); the next start-up's
``audit.resume`` record, checkpointed at once, states the head it found and how
many records after the newest checkpoint it saw, so a cut made before that
start-up is bounded by them and any cut after it is detected. The
``audit.checkpoint`` log lines, which leave the database, let an auditor check
the newest checkpoints themselves. :func:`interruptions` lists every such
crash point (and a chain that currently ends without a stop record) so that
``audit verify`` reports them; they are not problems.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict, Unpack

from gateway.audit.record import (
    GENESIS_DIGEST,
    RESUME_OPERATION,
    STOP_OPERATION,
    AuditRecord,
)
from gateway.audit.signing import AuditKeyring, Checkpoint, checkpoint_signature_valid

ProblemKind = Literal[
    "changed",
    "removed",
    "inserted",
    "reordered",
    "truncated",
    "checkpoint",
    "archive",
    "unverifiable",
]


@dataclass(frozen=True)
class ChainProblem:
    """One finding: the chain, the first bad ``seq`` in it, and what happened there."""

    instance: str
    seq: int
    what: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"{self.instance} seq {self.seq}: {self.what} ({self.detail})"


@dataclass(frozen=True)
class Interruption:
    """A place where a chain did not end with a clean stop: a crash, a kill, or a cut.

    ``resumed_seq`` is the ``audit.resume`` record of the next run; None when the
    chain ends there now (the instance is running, or has not been started since).
    Records ``checkpointed_seq + 1 .. head_seq`` were not covered by a checkpoint
    at that point: their removal before ``resumed_seq`` could not be detected.
    """

    instance: str
    head_seq: int
    checkpointed_seq: int
    resumed_seq: int | None

    @property
    def unprotected(self) -> int:
        return self.head_seq - self.checkpointed_seq

    def __str__(self) -> str:
        if self.unprotected > 0:
            cover = (
                f"seq {self.checkpointed_seq + 1}..{self.head_seq} ({self.unprotected} records)"
                " not covered by a checkpoint"
            )
        else:
            cover = "every record covered by a checkpoint"
        if self.resumed_seq is None:
            return (
                f"{self.instance}: ends at seq {self.head_seq} without a stop record"
                f" (running, or stopped uncleanly); {cover}"
            )
        return (
            f"{self.instance}: resumed at seq {self.resumed_seq} after an unclean stop"
            f" at seq {self.head_seq}; {cover}"
        )


class ChainOptions(TypedDict, total=False):
    """The keyword options of :func:`verify_chain`."""

    trust_first_link: bool
    archive_dir: Path | None
    last_seq_when_empty: int


@dataclass
class VerifyReport:
    """The outcome of verifying one or more chains.

    ``interruptions`` are not problems: they say where a chain was interrupted and
    how much of it a checkpoint covered then (see :class:`Interruption`).
    """

    problems: list[ChainProblem] = field(default_factory=list)
    interruptions: list[Interruption] = field(default_factory=list)
    records_checked: int = 0
    checkpoints_checked: int = 0
    instances: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing tampered and every checkpoint verified."""
        return not self.problems

    @property
    def tampering(self) -> list[ChainProblem]:
        """The problems that are evidence of a change (all but ``unverifiable``)."""
        return [p for p in self.problems if p.what != "unverifiable"]

    @property
    def unverifiable(self) -> list[ChainProblem]:
        """Checkpoints signed by a key the verifier was not given."""
        return [p for p in self.problems if p.what == "unverifiable"]

    def check(
        self,
        instance: str,
        records: Sequence[AuditRecord],
        checkpoints: Sequence[Checkpoint],
        keys: AuditKeyring,
        **options: Unpack[ChainOptions],
    ) -> None:
        """Verify one instance's chain into this report (``options`` of :func:`verify_chain`)."""
        self.instances.append(instance)
        self.records_checked += len(records)
        self.checkpoints_checked += len(checkpoints)
        self.problems.extend(verify_chain(instance, records, checkpoints, keys, **options))
        self.interruptions.extend(interruptions(instance, records, checkpoints))


def _anchor(records: Sequence[AuditRecord], instance: str) -> ChainProblem | None:
    """Records before the first stored one must be accounted for by an archive record."""
    first = records[0]
    if first.seq == 1 and first.prev_digest == GENESIS_DIGEST:
        return None
    covered = 0
    for record in records:
        if record.kind != "archive":
            continue
        last_seq = int(record.detail.get("last_seq", 0))
        if last_seq == first.seq - 1 and record.detail.get("last_digest") == first.prev_digest:
            return None
        if last_seq < first.seq:
            covered = max(covered, last_seq)
    return ChainProblem(
        instance, covered + 1, "removed", "records at the start are gone without an archive"
    )


def _walk(records: Sequence[AuditRecord], instance: str) -> ChainProblem | None:
    """The first record that breaks the chain, or None."""
    by_digest = {r.digest: i for i, r in enumerate(records)}
    expected_prev = records[0].prev_digest
    expected_seq = records[0].seq
    last_good = -1
    for i, record in enumerate(records):
        if record.computed_digest() != record.digest:
            return ChainProblem(instance, record.seq, "changed", "content does not match digest")
        if record.prev_digest == expected_prev:
            if record.seq != expected_seq:
                return ChainProblem(
                    instance, record.seq, "changed", f"sequence number altered (was {expected_seq})"
                )
            expected_prev, expected_seq, last_good = record.digest, record.seq + 1, i
            continue
        linked = by_digest.get(record.prev_digest)
        if linked is not None and linked > i:
            return ChainProblem(
                instance,
                record.seq,
                "reordered",
                f"chained after seq {records[linked].seq}, stored before it",
            )
        after = records[i + 1] if i + 1 < len(records) else None
        if after is not None and after.prev_digest == expected_prev:
            return ChainProblem(
                instance, record.seq, "inserted", "not chained: the next record links past it"
            )
        if linked is not None and linked < last_good:
            return ChainProblem(
                instance,
                records[linked + 1].seq,
                "inserted",
                f"seq {record.seq} is chained to seq {records[linked].seq}, skipping it",
            )
        if record.seq > expected_seq:
            return ChainProblem(
                instance, expected_seq, "removed", f"missing before seq {record.seq}"
            )
        if last_good >= 0:
            return ChainProblem(
                instance,
                records[last_good].seq,
                "changed",
                f"seq {record.seq} was chained to other content (re-hashed or replaced)",
            )
        return ChainProblem(instance, record.seq, "removed", "its predecessor is missing")
    return None


def _archive_problems(
    records: Sequence[AuditRecord], instance: str, archive_dir: Path | None
) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    if archive_dir is None:
        return problems
    for record in records:
        if record.kind != "archive":
            continue
        path = archive_dir / Path(str(record.detail.get("file", ""))).name
        if not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != record.detail.get("sha256"):
            problems.append(
                ChainProblem(instance, record.seq, "archive", f"{path.name} does not match")
            )
    return problems


def _lifecycle_problems(
    records: Sequence[AuditRecord], instance: str, checkpoints: Sequence[Checkpoint]
) -> list[ChainProblem]:
    """Stop and resume records are committed with a checkpoint; a resume names another."""
    signed = {cp.seq for cp in checkpoints}
    problems: list[ChainProblem] = []
    for record in records:
        if record.kind != "lifecycle":
            continue
        if record.seq not in signed:
            problems.append(
                ChainProblem(
                    instance,
                    record.seq,
                    "checkpoint",
                    f"the checkpoint committed with this {record.operation} record is missing",
                )
            )
        if record.operation == RESUME_OPERATION:
            beyond = record.detail.get("checkpoint_beyond_head_seq")
            if beyond is not None:
                problems.append(
                    ChainProblem(
                        instance,
                        int(record.detail.get("previous_head_seq", 0)) + 1,
                        "truncated",
                        f"the restart at seq {record.seq} found a checkpoint at seq {beyond}"
                        " beyond the records left",
                    )
                )
            named = int(record.detail.get("checkpointed_seq", 0))
            if named >= records[0].seq and named not in signed:
                problems.append(
                    ChainProblem(
                        instance,
                        named,
                        "checkpoint",
                        f"the checkpoint the resume record at seq {record.seq} names is missing",
                    )
                )
    return problems


def interruptions(
    instance: str, records: Sequence[AuditRecord], checkpoints: Sequence[Checkpoint]
) -> list[Interruption]:
    """Every ``audit.resume`` record, and the chain's end when it is not a stop record."""
    found: list[Interruption] = []
    for record in records:
        if record.kind == "lifecycle" and record.operation == RESUME_OPERATION:
            found.append(
                Interruption(
                    instance,
                    head_seq=int(record.detail.get("previous_head_seq", record.seq - 1)),
                    checkpointed_seq=int(record.detail.get("checkpointed_seq", 0)),
                    resumed_seq=record.seq,
                )
            )
    if records:
        last = records[-1]
        if not (last.kind == "lifecycle" and last.operation == STOP_OPERATION):
            covered = [cp.seq for cp in checkpoints if cp.seq <= last.seq]
            found.append(Interruption(instance, last.seq, max(covered, default=0), None))
    return found


def verify_chain(
    instance: str,
    records: Sequence[AuditRecord],
    checkpoints: Sequence[Checkpoint],
    keys: AuditKeyring,
    *,
    trust_first_link: bool = False,
    archive_dir: Path | None = None,
    last_seq_when_empty: int = 0,
) -> list[ChainProblem]:
    """Every problem found in one instance's chain (records sorted by ``seq``).

    ``keys`` are the public keys trusted, by key id: each checkpoint is verified
    under the one its ``key_id`` names (``unverifiable`` when there is none).
    ``trust_first_link`` (for ``--since``) accepts the first record's link to
    records that were not loaded.
    """
    problems: list[ChainProblem] = []
    if records:
        start = None if trust_first_link else _anchor(records, instance)
        if start is not None:
            problems.append(start)
        broken = _walk(records, instance)
        if broken is not None:
            problems.append(broken)
        problems.extend(_archive_problems(records, instance, archive_dir))
        problems.extend(_lifecycle_problems(records, instance, checkpoints))
    by_seq = {r.seq: r for r in records}
    first_seq = records[0].seq if records else last_seq_when_empty + 1
    last_seq = records[-1].seq if records else last_seq_when_empty
    truncated_at: int | None = None
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        key = keys.get(cp.key_id)
        if key is None:
            problems.append(
                ChainProblem(
                    instance,
                    cp.seq,
                    "unverifiable",
                    f"checkpoint signed by key {cp.key_id}, which is not the signing key's"
                    " nor in [audit] previous_public_key_files: add that public key",
                )
            )
            continue
        if not checkpoint_signature_valid(key, cp):
            problems.append(
                ChainProblem(instance, cp.seq, "checkpoint", "signature does not verify")
            )
            continue
        if cp.seq < first_seq:
            continue
        if cp.seq > last_seq:
            truncated_at = last_seq + 1
            continue
        signed = by_seq.get(cp.seq)
        if signed is not None and signed.digest != cp.head_digest:
            problem = ChainProblem(instance, cp.seq, "changed", "a checkpoint signed other content")
            if not any(p.seq == cp.seq and p.what == "changed" for p in problems):
                problems.append(problem)
    if truncated_at is not None:
        problems.append(
            ChainProblem(
                instance, truncated_at, "truncated", "a checkpoint signed records now missing"
            )
        )
    return problems
