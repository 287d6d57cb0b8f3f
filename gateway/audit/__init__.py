"""The tamper-evident audit log: who asked what and when, provable afterwards.

Every exchange appends an :class:`AuditRecord` to a per-instance hash chain in
the store (:mod:`.record` documents the canonical form), checkpoints sign the
chain head with Ed25519 (:mod:`.signing`), :mod:`.chain` names the first
record that was changed, removed, inserted or reordered. :mod:`.writer` appends
and checkpoints one instance's chain, :mod:`.checkpoints` keeps its checkpoint
ticker and :mod:`.log` composes them for the running gateway; :mod:`.export`
verifies the store's chains and writes JSON lines for auditors, :mod:`.archive`
moves old records out (retention): both plain functions of the store and the keys.
"""
