"""What reconciliation finds: the kinds of discrepancy, one discrepancy, the counts.

Every provider row of the day ends in exactly one bucket:

- ``matched``: paid at both with the same amount, or paid at neither;
- ``paid_at_provider_only``: the provider took the money but the payment is
  still open here (its callback was lost); fixed through the ledger's normal transition;
- ``paid_after_final``: the provider took the money of a payment that is failed,
  cancelled or expired here; moved to needs_review (``paid_after_<state>``);
- ``disputed_at_provider``: the provider reports the money flagged as suspicious,
  reversed or refunded, for a payment open or paid here (flagged: any payment);
  moved to needs_review with the provider's reason;
- ``amount_difference``: paid at both, amounts differ (left to people as needs_review);
- ``unknown_reference``: the provider lists a reference the store does not know;
- ``duplicate_at_provider``: the provider lists one reference twice.

Payments of the day that are paid here but missing from (or not paid in) the
provider's list are ``paid_here_only``.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, fields
from pathlib import Path


class DiscrepancyKind(enum.StrEnum):
    """Why a row of the report needs attention."""

    PAID_AT_PROVIDER_ONLY = "paid_at_provider_only"
    PAID_AFTER_FINAL = "paid_after_final"
    DISPUTED_AT_PROVIDER = "disputed_at_provider"
    AMOUNT_DIFFERENCE = "amount_difference"
    PAID_HERE_ONLY = "paid_here_only"
    UNKNOWN_REFERENCE = "unknown_reference"
    DUPLICATE_AT_PROVIDER = "duplicate_at_provider"


class Action(enum.StrEnum):
    """What this run did about a discrepancy."""

    #: Moved to paid through the ledger (with its ``payment.paid`` event).
    FIXED_TO_PAID = "fixed_to_paid"
    #: Moved to needs_review through the ledger (amount differs, paid late, or disputed).
    MOVED_TO_NEEDS_REVIEW = "moved_to_needs_review"
    #: Already needs_review from an earlier callback or run: waiting for people.
    ALREADY_NEEDS_REVIEW = "already_needs_review"
    #: Would have been fixed, but the run was told not to fix (``fix=False``).
    NOT_FIXED = "not_fixed"
    #: Nothing the ledger may do (e.g. the payment is final here): for people.
    LEFT_FOR_REVIEW = "left_for_review"
    #: Only reported.
    REPORTED = "reported"


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One line of the CSV report. Carries references and amounts, never personal data."""

    kind: DiscrepancyKind
    reference: str
    action: Action
    provider_status: str = ""
    provider_amount: int | None = None
    provider_txn_id: str | None = None
    store_status: str = ""
    store_amount: int | None = None

    def as_record(self) -> dict[str, object]:
        """The JSON/CSV form (``None`` kept as null in JSON)."""
        return {
            "kind": str(self.kind),
            "reference": self.reference,
            "action": str(self.action),
            "provider_status": self.provider_status,
            "provider_amount": self.provider_amount,
            "provider_txn_id": self.provider_txn_id,
            "store_status": self.store_status,
            "store_amount": self.store_amount,
        }


CSV_COLUMNS: tuple[str, ...] = (
    "kind",
    "reference",
    "action",
    "provider_status",
    "provider_amount",
    "provider_txn_id",
    "store_status",
    "store_amount",
)


@dataclass(slots=True)
class ReconcileCounts:
    """How many rows ended where. ``fixed`` counts transitions this run applied."""

    provider_rows: int = 0
    store_rows: int = 0
    matched: int = 0
    paid_at_provider_only: int = 0
    paid_after_final: int = 0
    disputed_at_provider: int = 0
    amount_difference: int = 0
    paid_here_only: int = 0
    unknown_reference: int = 0
    duplicate_at_provider: int = 0
    fixed: int = 0

    def add(self, kind: DiscrepancyKind) -> None:
        """Count one discrepancy of ``kind``."""
        setattr(self, kind.value, getattr(self, kind.value) + 1)

    @property
    def discrepancies(self) -> int:
        """All discrepancies, whatever their kind."""
        return (
            self.paid_at_provider_only
            + self.paid_after_final
            + self.disputed_at_provider
            + self.amount_difference
            + self.paid_here_only
            + self.unknown_reference
            + self.duplicate_at_provider
        )

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "discrepancies": self.discrepancies
        }


@dataclass(slots=True)
class ReconcileReport:
    """The outcome of one run: counts, capped samples per kind, and where the files are."""

    provider: str
    day: dt.date
    fix: bool
    counts: ReconcileCounts = field(default_factory=ReconcileCounts)
    samples: dict[DiscrepancyKind, list[Discrepancy]] = field(default_factory=dict)
    json_path: Path | None = None
    csv_path: Path | None = None
    duration_s: float = 0.0

    def summary_lines(self) -> list[str]:
        """Plain lines for a terminal or a log file (no personal data)."""
        c = self.counts
        rate = c.provider_rows / self.duration_s if self.duration_s > 0 else 0.0
        return [
            f"reconcile {self.provider} {self.day.isoformat()}: "
            f"{c.provider_rows} provider rows, {c.store_rows} payments here, "
            f"{self.duration_s:.1f} s ({rate:,.0f} rows/s)",
            f"  matched {c.matched}",
            f"  paid at provider only {c.paid_at_provider_only} (fixed this run: {c.fixed})",
            f"  paid after final here {c.paid_after_final} (needs_review)",
            f"  flagged, reversed or refunded at provider {c.disputed_at_provider} (needs_review)",
            f"  amount differences {c.amount_difference} (needs_review)",
            f"  paid here only {c.paid_here_only}",
            f"  unknown references {c.unknown_reference}",
            f"  duplicates at provider {c.duplicate_at_provider}",
            f"  report: {self.json_path} {self.csv_path}",
        ]
