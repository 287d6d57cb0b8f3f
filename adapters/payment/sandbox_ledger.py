"""The in-memory ledger of a payment sandbox: its payments, and synthetic days for benchmarks.

Seeded rows are not stored: a seed block records (count, amount, status) for a day
and rows are synthesised on demand from their index, so a million-row day costs
no memory and pages of it are cheap to serve.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from adapters.aliases import VIETNAM_TZ
from adapters.payment.config import ProviderStatus

_SEEDED_REFERENCE = re.compile(r"^SD(\d{8})(\d{9})$")


@dataclass(slots=True)
class SandboxPayment:
    """One payment the sandbox knows: registered by create (or the pay page), then settled."""

    reference: str
    amount: int
    description: str
    created_at: dt.datetime
    page_key: str
    return_url: str
    status: ProviderStatus = ProviderStatus.PENDING
    txn_id: str | None = None
    paid_amount: int | None = None
    settled_at: dt.datetime | None = None
    #: Provider-specific wire values kept for replies (e.g. ``vnp_CreateDate``).
    wire: dict[str, str] = field(default_factory=dict)

    @property
    def reported_amount(self) -> int:
        """The amount the provider reports: what was paid, else what was billed."""
        return self.paid_amount if self.paid_amount is not None else self.amount


@dataclass(frozen=True, slots=True)
class SeedBlock:
    first_index: int
    count: int
    amount: int
    status: ProviderStatus


def seeded_reference(day: dt.date, index: int) -> str:
    """``SD`` + yyyyMMdd + 9-digit index: 19 characters, a valid reference."""
    return f"{_seed_prefix(day)}{index:09d}"


@functools.lru_cache(maxsize=64)
def _seed_prefix(day: dt.date) -> str:
    return f"SD{day:%Y%m%d}"  # strftime once a day, not once a row of a million-row list


@functools.lru_cache(maxsize=64)
def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), VIETNAM_TZ)


class SandboxLedger:
    """Payments by reference and by pay-page key; settled payments and seed blocks by day."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every payment and seed block."""
        self._by_reference: dict[str, SandboxPayment] = {}
        self._by_page_key: dict[str, SandboxPayment] = {}
        self._settled_by_day: dict[dt.date, list[SandboxPayment]] = {}
        self._seeded: dict[dt.date, list[SeedBlock]] = {}
        self._next_txn = 1

    def add(self, payment: SandboxPayment) -> None:
        self._by_reference[payment.reference] = payment
        self._by_page_key[payment.page_key] = payment

    def by_page_key(self, key: str) -> SandboxPayment | None:
        return self._by_page_key.get(key)

    def find(self, reference: str) -> SandboxPayment | None:
        """A registered payment, or a seeded row synthesised from its reference."""
        found = self._by_reference.get(reference)
        if found is not None:
            return found
        match = _SEEDED_REFERENCE.fullmatch(reference)
        if not match:
            return None
        try:
            day = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            return None
        index = int(match.group(2))
        for block in self._seeded.get(day, []):
            if block.first_index <= index < block.first_index + block.count:
                return self._seeded_row(day, index, block)
        return None

    def settle(
        self, payment: SandboxPayment, status: ProviderStatus, paid_amount: int, at: dt.datetime
    ) -> None:
        """Record the payer's outcome (once; the day list shows it under ``at``'s day)."""
        payment.status = status
        payment.paid_amount = paid_amount if status is ProviderStatus.PAID else None
        payment.settled_at = at
        payment.txn_id = f"{self._next_txn:010d}"
        self._next_txn += 1
        self._settled_by_day.setdefault(at.astimezone(VIETNAM_TZ).date(), []).append(payment)

    def seed(self, day: dt.date, count: int, amount: int, status: ProviderStatus) -> None:
        """Add ``count`` synthetic settled transactions to ``day``."""
        blocks = self._seeded.setdefault(day, [])
        first = blocks[-1].first_index + blocks[-1].count if blocks else 0
        blocks.append(SeedBlock(first, count, amount, status))

    def day_size(self, day: dt.date) -> int:
        seeded = sum(block.count for block in self._seeded.get(day, []))
        return len(self._settled_by_day.get(day, [])) + seeded

    def day_page(self, day: dt.date, page: int, size: int) -> list[SandboxPayment]:
        """Rows ``[(page-1)*size, page*size)`` of the day: real settlements, then seeded rows."""
        start = (page - 1) * size
        stop = start + size
        real = self._settled_by_day.get(day, [])
        rows = real[start:stop]
        offset = len(real)
        for block in self._seeded.get(day, []):
            lo = max(start, offset)
            hi = min(stop, offset + block.count)
            for position in range(lo, hi):
                index = block.first_index + position - offset
                rows.append(self._seeded_row(day, index, block))
            offset += block.count
            if offset >= stop:
                break
        return rows

    @staticmethod
    def _seeded_row(day: dt.date, index: int, block: SeedBlock) -> SandboxPayment:
        at = _day_start(day) + dt.timedelta(seconds=index % 86400)
        return SandboxPayment(
            reference=seeded_reference(day, index),
            amount=block.amount,
            description="seeded",
            created_at=at,
            page_key="",
            return_url="",
            status=block.status,
            txn_id=f"9{index:09d}",
            paid_amount=block.amount if block.status is ProviderStatus.PAID else None,
            settled_at=at,
        )
