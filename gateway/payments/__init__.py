"""Payments: the state machine, the idempotent ledger and the transactional outbox."""
