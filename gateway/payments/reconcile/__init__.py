"""Daily reconciliation of a payment provider's transaction list against the store (issue #4).

>>> report = await reconcile(ledger, provider, date(2026, 3, 1), out_dir=Path("var/reconcile"))
>>> report.counts.paid_at_provider_only, report.counts.fixed

The CLI (``lienthong reconcile --provider P --date D``) calls :func:`reconcile_command`.
"""

from __future__ import annotations

from gateway.payments.reconcile.command import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    TerminalProgress,
    reconcile_command,
    run_reconcile,
)
from gateway.payments.reconcile.engine import PROGRESS_EVERY, Progress, reconcile
from gateway.payments.reconcile.model import (
    CSV_COLUMNS,
    Action,
    Discrepancy,
    DiscrepancyKind,
    ReconcileCounts,
    ReconcileReport,
)
from gateway.payments.reconcile.providers import ProviderNotConfigured, provider_from_settings
from gateway.payments.reconcile.report_files import report_stem

__all__ = [
    "CSV_COLUMNS",
    "EXIT_COMPLETED",
    "EXIT_FAILED",
    "PROGRESS_EVERY",
    "Action",
    "Discrepancy",
    "DiscrepancyKind",
    "Progress",
    "ProviderNotConfigured",
    "ReconcileCounts",
    "ReconcileReport",
    "TerminalProgress",
    "provider_from_settings",
    "reconcile",
    "reconcile_command",
    "report_stem",
    "run_reconcile",
]
