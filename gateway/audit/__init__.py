"""The tamper-evident audit log: who asked what and when, provable afterwards.

Every exchange appends an :class:`AuditRecord` to a per-instance hash chain in
the store (:mod:`.record` documents the canonical form), checkpoints sign the
chain head with Ed25519 (:mod:`.signing`), :mod:`.chain` names the first
record that was changed, removed, inserted or reordered, :mod:`.export` writes
JSON lines for auditors, and :class:`AuditLog` ties it together with retention.
"""
