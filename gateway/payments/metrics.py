"""Payment gauges for /metrics: payments by state, outbox depth and the oldest event's age.

Gauges are refreshed by the payment worker after each round (a scrape never
touches the database).
"""

from __future__ import annotations

from prometheus_client import Gauge

from gateway.payments.model import PaymentStatus
from gateway.payments.outbox import Outbox
from gateway.store import Store

PAYMENTS_BY_STATE = Gauge("lienthong_payments", "Payments in the store by state", ["status"])
OUTBOX_DEPTH = Gauge(
    "lienthong_outbox_events", "Outbox events not yet delivered, by status", ["status"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "lienthong_outbox_oldest_pending_age_seconds",
    "Age of the oldest undelivered outbox event (0 when none)",
)


class PaymentGauges:
    """Reads the counts from the store and sets the gauges."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self._store = store
        self._outbox = outbox

    async def refresh(self) -> None:
        rows = await self._store.fetch_all(
            "SELECT status, COUNT(*) AS n FROM payments GROUP BY status"
        )
        counts = {str(r["status"]): int(r["n"]) for r in rows}
        for status in PaymentStatus:
            PAYMENTS_BY_STATE.labels(str(status)).set(counts.get(str(status), 0))
        stats = await self._outbox.stats()
        OUTBOX_DEPTH.labels("pending").set(stats.pending)
        OUTBOX_DEPTH.labels("dead").set(stats.dead)
        age = stats.oldest_pending_age
        OUTBOX_OLDEST_AGE.set(age.total_seconds() if age is not None else 0.0)
