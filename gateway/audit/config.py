"""How the audit log is kept: signing key, keyed digests of personal ids, checkpoints, retention."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: ``buffered`` (the default): ``append`` returns at once (the record is queued before
#: the request is answered) and one writer commits the queue in batches; a crash loses
#: what was not yet committed: records appended less than ``max_delay_seconds`` (or the
#: rest of the commit then running, if that is longer) plus one commit ago, while fewer
#: than ``max_batch`` records wait ahead (each further ``max_batch`` adds a commit).
#: ``commit``: ``append`` returns once the record is committed (a crash loses nothing
#: that was acknowledged), at the price of a commit's latency on every request.
Durability = Literal["commit", "buffered"]


class AuditConfig(BaseModel):
    """The audit log's settings (``[audit]`` in the gateway's TOML)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    durability: Durability = "buffered"
    #: A checkpoint (Ed25519 signature over the chain head) at least this often while
    #: records come in, at start-up after an unclean stop, and at shutdown. Committed
    #: records not yet covered by a checkpoint are the ones whose removal only the next
    #: start-up's ``audit.resume`` record can bound; this keeps them to the last seconds.
    checkpoint_interval_seconds: float = Field(default=5.0, gt=0)
    #: ... and in the same transaction as the batch that brings the records not yet
    #: covered by a checkpoint to this many (so at most this many minus one are uncovered).
    checkpoint_records: int = Field(default=1000, ge=1)
    #: Ed25519 private key, PKCS#8 PEM (``lienthong certs init`` writes the dev one here).
    signing_key_file: Path = Path("certs/dev/audit-signing.key")
    #: Ed25519 public keys (PEM) of signing keys used before this one: verification and
    #: export accept checkpoints signed by any of them (each names its key by key id), so
    #: the signing key is rotated in place (docs/operations.md, "Rotate the audit keys").
    previous_public_key_files: list[Path] = Field(default_factory=list)
    #: HMAC-SHA256 key for the keyed digests of personal ids. When neither this nor
    #: ``digest_key_file`` is set, a key is derived (HKDF) from the signing key.
    digest_key: SecretStr | None = None
    digest_key_file: Path | None = None
    #: Records older than this are archived to ``archive_dir`` and removed.
    retention_days: int = Field(default=365, ge=1)
    archive_dir: Path = Path("var/audit-archive")
    #: At most this many records are written in one transaction.
    max_batch: int = Field(default=500, ge=1, le=10_000)
    #: ``buffered`` only: how long after its first record was appended a batch may gather
    #: before it is committed (0: commit whatever has queued at once; time spent waiting
    #: for the commit before counts). Under light load one commit per record cost a
    #: verification about 0.25–0.5 ms of CPU; 10 ms keeps that saving without the longer
    #: pauses of bigger batches (measured: 50 ms raised the p99). A record is committed
    #: within the longer of this and the rest of the commit running when it was
    #: appended, plus its own commit (see gateway/audit/writer.py).
    max_delay_seconds: float = Field(default=0.01, ge=0, le=5)
    #: Bound on records waiting for the writer; ``append`` waits when it is full.
    queue_size: int = Field(default=10_000, ge=1)
