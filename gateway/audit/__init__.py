"""The tamper-evident audit log: who asked what and when, provable afterwards.

Every exchange appends an :class:`AuditRecord` to a per-instance hash chain in
the store (:mod:`.record` documents the canonical form), checkpoints sign the
chain head with Ed25519 (:mod:`.signing`), :mod:`.chain` names the first
record that was changed, removed, inserted or reordered, :mod:`.export` writes
JSON lines for auditors, and :class:`AuditLog` ties it together with retention.
"""

from gateway.audit.chain import (
    ChainProblem,
    Interruption,
    VerifyReport,
    interruptions,
    verify_chain,
)
from gateway.audit.commands import (
    audit_archive_command,
    audit_export_command,
    audit_verify_command,
    parse_since,
)
from gateway.audit.config import AuditConfig
from gateway.audit.export import export_audit_log, verify_audit_log, verify_export
from gateway.audit.log import ArchiveResult, AuditLog, AuditLogClosed
from gateway.audit.middleware import (
    audit_callback,
    audit_middleware,
    audit_operator,
    audit_upstream,
    audit_webhook,
    personal_ids_in,
)
from gateway.audit.record import GENESIS_DIGEST, AuditRecord
from gateway.audit.signing import AuditKeyError, Checkpoint
from gateway.audit.subject import audit_subject_command
from gateway.jsoncodec import canonical_json

__all__ = [
    "GENESIS_DIGEST",
    "ArchiveResult",
    "AuditConfig",
    "AuditKeyError",
    "AuditLog",
    "AuditLogClosed",
    "AuditRecord",
    "ChainProblem",
    "Checkpoint",
    "Interruption",
    "VerifyReport",
    "audit_archive_command",
    "audit_callback",
    "audit_export_command",
    "audit_middleware",
    "audit_operator",
    "audit_subject_command",
    "audit_upstream",
    "audit_verify_command",
    "audit_webhook",
    "canonical_json",
    "export_audit_log",
    "interruptions",
    "parse_since",
    "personal_ids_in",
    "verify_audit_log",
    "verify_chain",
    "verify_export",
]
