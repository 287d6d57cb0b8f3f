"""The payer's personal data at rest: what a payment row keeps, and for how long.

A payment row holds the payer's name and personal id in clear (``payer_name``,
``payer_id_number``) only while something needs them: the provider receives both
when the payment is registered with it, and a create that is replayed after a
failed registration registers the stored payment again. Once the payment has been
final (``paid``, ``failed``, ``cancelled``, ``expired``) for
``[payments] personal_data_retention_days`` (default 30) both are set to NULL by
:class:`PersonalDataEraser`, which the payment poller runs after each round and
``lienthong payments purge-personal-data`` runs on demand. Open payments and
payments in ``needs_review`` (a person still has to decide) keep them.

Kept for good, for display and for matching:

- ``payer_id_masked``: the id as every log line shows it (``092*******34``);
- ``payer_id_digest``: hex HMAC-SHA256 of the id under the audit log's digest key
  (``[audit] digest_key`` / ``digest_key_file``, else derived from the audit
  signing key), the very digest audit records carry in ``subject_digests``, so
  whoever holds the key can find one person's payments and requests, and nobody
  else can.

Both are written when the payment is created. Rows written before migration 0004
get them from the eraser's backfill (once per process, and in any case just
before their clear id is erased), since SQLite has no HMAC to do it in SQL.
Erasing changes neither ``status``, ``version`` nor ``updated_at``: the retention
period counts from the payment's last state change, and a payment that is moved
on later (an operator's decision on a late payment) simply keeps its masked form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from prometheus_client import Counter

from gateway.audit.config import AuditConfig
from gateway.audit.record import masked, subject_digest
from gateway.audit.signing import AuditKeyError, load_signing_key, subject_digest_key
from gateway.payments.model import FINAL, PaymentStatus
from gateway.store import Clock, Store, to_us

__all__ = [
    "PERSONAL_DATA_ERASED",
    "ErasureReport",
    "PayerIdDigest",
    "PersonalDataEraser",
    "load_payer_digest",
    "purge_personal_data",
]

_log = structlog.get_logger("payments.personal_data")

PERSONAL_DATA_ERASED = Counter(
    "lienthong_payments_personal_data_erased",
    "Payments whose payer name and personal id were erased after the retention period",
)

PayerDigest = Callable[[str], str]

#: The states that are not final, as SQL literals (constants of the state machine, not
#: input). "Final" is written as NOT IN these: SQLite, which keeps no statistics unless
#: ANALYZE runs, would otherwise read the (status, updated_at) index over every final
#: payment ever made (400 ms a sweep at 300,000 payments) instead of the partial index
#: of the rows still holding personal data (2 ms).
_NOT_FINAL_SQL = ", ".join(f"'{status}'" for status in sorted(set(PaymentStatus) - FINAL))
#: Rows that still hold the payer's name or clear id (the partial index of migration 0004).
_HOLDS = "(payer_name IS NOT NULL OR payer_id_number IS NOT NULL)"
#: Due for erasure: holding personal data, final, unchanged since ``$1`` (the cutoff).
_DUE = f"{_HOLDS} AND updated_at <= $1 AND status NOT IN ({_NOT_FINAL_SQL})"
#: One batch of due rows (``$2`` of them), those final longest first.
SELECT_DUE = (
    f"SELECT id, payer_id_number FROM payments WHERE {_DUE}"  # noqa: S608 (constants)
    " ORDER BY updated_at, id LIMIT $2"
)


class PayerIdDigest:
    """The keyed digest of a payer's id: the audit log's subject digest, same key, same form."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_audit_config(cls, config: AuditConfig) -> PayerIdDigest:
        """The key the audit log uses (:func:`subject_digest_key`); AuditKeyError if none."""
        return cls(subject_digest_key(config, lambda: load_signing_key(config.signing_key_file)))

    def __call__(self, id_number: str) -> str:
        return subject_digest(self._key, id_number)


def load_payer_digest(config: AuditConfig) -> PayerDigest | None:
    """The payer-id digest, or None (logged) when no audit key can be loaded.

    Without a key the masked id is still kept and the clear values are still erased
    on time; only the digest is missing (NULL) until a key is configured.
    """
    try:
        return PayerIdDigest.from_audit_config(config)
    except AuditKeyError as exc:
        _log.warning("payments.payer_digest_unavailable", error=str(exc))
        return None


@dataclass(frozen=True)
class ErasureReport:
    """What one pass did: payments erased, and rows given their digest and masked id."""

    erased: int = 0
    backfilled: int = 0

    def __add__(self, other: ErasureReport) -> ErasureReport:
        return ErasureReport(self.erased + other.erased, self.backfilled + other.backfilled)


class PersonalDataEraser:
    """Erases payer names and ids of payments final for longer than ``retention``."""

    def __init__(
        self,
        store: Store,
        retention: dt.timedelta,
        *,
        digest: PayerDigest | None,
        clock: Clock | None = None,
        batch_size: int = 500,
    ) -> None:
        if retention < dt.timedelta(0):
            raise ValueError("the retention period must not be negative")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._store = store
        self.retention = retention
        self._digest = digest
        self._clock = clock or store.clock
        self._batch_size = batch_size
        self._backfill_done = False

    async def run_once(self) -> ErasureReport:
        """One batch: backfill digests (until none are missing), then erase what is due."""
        backfilled = 0
        if not self._backfill_done:
            selected, backfilled = await self._backfill_batch()
            self._backfill_done = selected < self._batch_size
        erased = await self._erase_batch()
        if erased:
            PERSONAL_DATA_ERASED.inc(erased)
            _log.info(
                "payments.personal_data_erased",
                payments=erased,
                retention_days=self.retention / dt.timedelta(days=1),
            )
        return ErasureReport(erased, backfilled)

    async def run_until_done(
        self, progress: Callable[[ErasureReport], None] | None = None
    ) -> ErasureReport:
        """Batches until nothing is left to backfill or erase; ``progress`` sees each batch."""
        total = ErasureReport()
        while True:
            report = await self.run_once()
            total += report
            if progress is not None and (report.erased or report.backfilled):
                progress(total)
            if report.erased < self._batch_size and self._backfill_done:
                return total

    async def sweep(self) -> None:
        """:meth:`run_once` for the poller's round: a failure is logged, never raised."""
        try:
            await self.run_once()
        except Exception:  # the poller outlives a failed sweep; the next round tries again
            _log.exception("payments.personal_data_sweep_failed")

    async def _backfill_batch(self) -> tuple[int, int]:
        """Give rows from before migration 0004 their masked id (and digest, with a key).

        Returns how many rows were selected and how many of them this pass updated.
        """
        missing = "payer_id_digest" if self._digest is not None else "payer_id_masked"
        rows = await self._store.fetch_all(
            "SELECT id, payer_id_number FROM payments WHERE payer_id_number IS NOT NULL"  # noqa: S608 (a column name chosen above)
            f" AND {missing} IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0, 0
        done = 0
        async with self._store.transaction() as tx:
            for row in rows:
                done += await tx.execute(
                    "UPDATE payments SET payer_id_digest = COALESCE(payer_id_digest, $2),"
                    " payer_id_masked = COALESCE(payer_id_masked, $3)"
                    " WHERE id = $1 AND payer_id_number = $4",
                    row["id"],
                    self._digest_of(row["payer_id_number"]),
                    masked(row["payer_id_number"]),
                    row["payer_id_number"],
                )
        return len(rows), done

    async def _erase_batch(self) -> int:
        cutoff = to_us(self._clock() - self.retention)
        rows = await self._store.fetch_all(SELECT_DUE, cutoff, self._batch_size)
        if not rows:
            return 0
        erased = 0
        async with self._store.transaction() as tx:
            for row in rows:
                clear_id = row["payer_id_number"]
                # The conditions again: another instance may have erased it, or it moved on.
                erased += await tx.execute(
                    "UPDATE payments SET payer_name = NULL, payer_id_number = NULL,"  # noqa: S608 (constants)
                    " payer_id_digest = COALESCE(payer_id_digest, $3),"
                    f" payer_id_masked = COALESCE(payer_id_masked, $4) WHERE id = $2 AND {_DUE}",
                    cutoff,
                    row["id"],
                    self._digest_of(clear_id) if clear_id is not None else None,
                    masked(clear_id) if clear_id is not None else None,
                )
        return erased

    def _digest_of(self, id_number: str) -> str | None:
        return self._digest(id_number) if self._digest is not None else None


async def purge_personal_data(
    store: Store,
    retention_days: int,
    audit: AuditConfig,
    *,
    progress: Callable[[ErasureReport], None] | None = None,
) -> ErasureReport:
    """Erase now everything past the retention period (``lienthong payments purge-personal-data``).

    The same erasure the poller does after each round, run batch after batch until
    nothing is left; rows from before migration 0004 get their digest first.
    """
    eraser = PersonalDataEraser(
        store, dt.timedelta(days=retention_days), digest=load_payer_digest(audit)
    )
    return await eraser.run_until_done(progress)
