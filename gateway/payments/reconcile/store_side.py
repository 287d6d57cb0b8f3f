"""The store's side of a reconciliation: the day's payments, small enough for a million rows.

A payment is kept as ``reference → packed int`` (see :func:`pack`): status, the
amount to compare and a "seen at the provider" bit in one Python int, so a
million payments take about 150 MB instead of a million :class:`Payment` objects.

Two readers give the same rows: :class:`CompactStoreSide` reads the four columns it
needs straight from the store (keyset pages on ``(created_at, id)``, about ten
times faster than building full payments); :class:`LedgerStoreSide` goes through
:meth:`PaymentLedger.list_by_day` when only the ledger is at hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from adapters.aliases import VIETNAM_TZ
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.store import Row, Store, to_us

#: Status ↔ the small code packed into a row (order is part of the packed form).
STATUS_CODES: tuple[PaymentStatus, ...] = tuple(PaymentStatus)
_CODE_OF: dict[PaymentStatus, int] = {status: code for code, status in enumerate(STATUS_CODES)}
#: A stored status text → its code shifted into place (a dict, not an enum call per row).
_SHIFTED_CODE_OF_TEXT: dict[str, int] = {
    status.value: code << 1 for code, status in enumerate(STATUS_CODES)
}
_STATUS_OF_TEXT: dict[str, PaymentStatus] = {status.value: status for status in STATUS_CODES}
#: The packed form's "seen at the provider" bit, and where the amount starts.
SEEN_BIT = 1
_STATUS_SHIFT = 1
_STATUS_MASK = 0b111
AMOUNT_SHIFT = 4
#: A page of the day's payments: their references and their packed values, in the same order.
PackedPage = tuple[list[str], list[int]]


@dataclass(frozen=True, slots=True)
class StoredPayment:
    """What reconciliation needs of a payment: its status and the amount to compare.

    ``amount`` is the paid amount once one was recorded (paid, needs_review), the
    billed amount before.
    """

    reference: str
    provider: str
    status: PaymentStatus
    amount: int


def pack(status: PaymentStatus, amount: int, *, seen: bool = False) -> int:
    """One int holding the amount, the status code and the seen bit."""
    return (amount << AMOUNT_SHIFT) | (_CODE_OF[status] << _STATUS_SHIFT) | int(seen)


def unpack(value: int) -> tuple[PaymentStatus, int, bool]:
    """``(status, amount, seen)`` of a packed row."""
    status = STATUS_CODES[(value >> _STATUS_SHIFT) & _STATUS_MASK]
    return status, value >> AMOUNT_SHIFT, bool(value & SEEN_BIT)


def mark_seen(value: int) -> int:
    """The packed row with its seen bit set."""
    return value | SEEN_BIT


def compared_amount(amount: int, paid_amount: int | None) -> int:
    """The paid amount when the store has one, else the billed amount."""
    return paid_amount if paid_amount is not None else amount


def day_bounds_us(day: date) -> tuple[int, int]:
    """``[start, end)`` of ``day`` in Vietnam, as stored microseconds."""
    start = datetime.combine(day, time.min, tzinfo=VIETNAM_TZ)
    return to_us(start), to_us(start + timedelta(days=1))


class StoreSide(Protocol):
    """Reads the store for a reconciliation."""

    def day_payments(self, day: date, provider: str) -> AsyncIterator[StoredPayment]:
        """The provider's payments created on ``day`` (Vietnam time)."""

    async def lookup(self, references: Sequence[str]) -> dict[str, StoredPayment]:
        """The payments with these references, whatever their day (missing ones left out)."""

    def day_packed(self, day: date, provider: str) -> AsyncIterator[PackedPage]:
        """:meth:`day_payments` as pages of ``(references, packed values)`` (see :func:`pack`)."""


class CompactStoreSide:
    """Reads only the columns reconciliation needs, page by page, straight from the store."""

    def __init__(self, store: Store, *, page_size: int = 10_000) -> None:
        self._store = store
        self._page_size = page_size

    async def _pages(
        self, day: date, provider: str, after: tuple[int, str] | None = None
    ) -> AsyncIterator[list[Row]]:
        start, end = day_bounds_us(day)
        after = after or (start - 1, "")
        while True:
            rows = await self._store.fetch_all(
                "SELECT id, reference, status, amount, paid_amount, created_at FROM payments"  # noqa: S608 (constants)
                f" WHERE {_DAY_PAGE} ORDER BY created_at, id LIMIT $6",
                start,
                end,
                provider,
                after[0],
                after[1],
                self._page_size,
            )
            yield rows
            if len(rows) < self._page_size:
                return
            after = (int(rows[-1]["created_at"]), str(rows[-1]["id"]))

    async def day_payments(self, day: date, provider: str) -> AsyncIterator[StoredPayment]:
        async for rows in self._pages(day, provider):
            for row in rows:
                yield _stored(row, provider)

    async def day_packed(self, day: date, provider: str) -> AsyncIterator[PackedPage]:
        """Each page as one row: the database packs the values and joins the columns.

        A million rows then cost two ``str.split`` calls a page in this process, not
        a row object each. A page the joined form cannot carry exactly (a reference
        with a line break, a status without a code) is read row by row instead.
        """
        start, end = day_bounds_us(day)
        after = (start - 1, "")
        sql = _packed_page_sql(self._store.dialect.name)
        while True:
            row = await self._store.fetch_one(
                sql, start, end, provider, after[0], after[1], self._page_size
            )
            assert row is not None  # an aggregate always has its row
            count = int(row["n"])
            references = row["refs"].split("\n") if count else []
            values = [int(v) for v in row["packed"].split(",")] if row["packed"] else []
            last_id = row.get("last_id")
            ids = row.get("ids")  # SQLite: every id of the page, joined, for the last one
            if ids is not None:
                last_id = ids.rpartition("\n")[2] if ids.count("\n") == count - 1 else None
            if len(references) == count == len(values) and (not count or last_id is not None):
                yield references, values
                next_after = (int(row["last_at"]), str(last_id)) if count else after
            else:
                page, next_after = await self._packed_rows(day, provider, after)
                yield page
            if count < self._page_size:
                return
            after = next_after

    async def _packed_rows(
        self, day: date, provider: str, after: tuple[int, str]
    ) -> tuple[PackedPage, tuple[int, str]]:
        """One page from ``after``, packed here row by row (what the joined form cannot
        hold), and the next page's keyset start."""
        code_of, shift = _SHIFTED_CODE_OF_TEXT, AMOUNT_SHIFT
        async for rows in self._pages(day, provider, after):
            if rows:
                after = (int(rows[-1]["created_at"]), str(rows[-1]["id"]))
            page = (
                [str(row["reference"]) for row in rows],
                [
                    ((row["amount"] if row["paid_amount"] is None else row["paid_amount"]) << shift)
                    | code_of[row["status"]]
                    for row in rows
                ],
            )
            return page, after
        return ([], []), after

    async def lookup(self, references: Sequence[str]) -> dict[str, StoredPayment]:
        if not references:
            return {}
        placeholders = ", ".join(f"${i + 1}" for i in range(len(references)))
        rows = await self._store.fetch_all(
            "SELECT reference, provider, status, amount, paid_amount FROM payments"  # noqa: S608 (placeholders only)
            f" WHERE reference IN ({placeholders})",
            *references,
        )
        return {row["reference"]: _stored(row, str(row["provider"])) for row in rows}


class LedgerStoreSide:
    """Reads through the ledger's public reads (full payments: slower, same rows)."""

    def __init__(self, ledger: PaymentLedger, *, page_size: int = 1_000) -> None:
        self._ledger = ledger
        self._page_size = page_size

    async def day_payments(self, day: date, provider: str) -> AsyncIterator[StoredPayment]:
        async for payment in self._ledger.list_by_day(day, page_size=self._page_size):
            if payment.provider == provider:
                yield StoredPayment(
                    payment.reference,
                    payment.provider,
                    payment.status,
                    compared_amount(payment.amount, payment.paid_amount),
                )

    async def day_packed(self, day: date, provider: str) -> AsyncIterator[PackedPage]:
        async for payment in self.day_payments(day, provider):
            yield [payment.reference], [pack(payment.status, payment.amount)]

    async def lookup(self, references: Sequence[str]) -> dict[str, StoredPayment]:
        found: dict[str, StoredPayment] = {}
        for reference in references:
            payment = await self._ledger.get_by_reference(reference)
            if payment is not None:
                found[reference] = StoredPayment(
                    payment.reference,
                    payment.provider,
                    payment.status,
                    compared_amount(payment.amount, payment.paid_amount),
                )
        return found


#: One page of the day's payments after ``($4, $5)``: ``created_at >= $4`` lets both databases
#: start the index range at the last page's end (an OR alone makes PostgreSQL rescan from
#: the day's start on every page).
_DAY_PAGE = (
    "created_at >= $1 AND created_at < $2 AND provider = $3"
    " AND created_at >= $4 AND (created_at > $4 OR id > $5)"
)


def _packed_page_sql(dialect: str) -> str:
    """A page as one row: ``n``, ``refs`` (joined by line breaks), ``packed`` (by commas),
    the last row's ``last_at`` and ``last_id`` (SQLite: ``ids``, all joined by line
    breaks, the last one last), the next page's keyset start."""
    codes = " ".join(f"WHEN '{text}' THEN {code}" for text, code in _SHIFTED_CODE_OF_TEXT.items())
    packed = (
        f"CAST(COALESCE(paid_amount, amount) AS BIGINT) * {1 << AMOUNT_SHIFT}"
        f" + CASE status {codes} END"
    )
    inner = (
        f"SELECT id, reference, {packed} AS packed, created_at FROM payments"  # noqa: S608 (constants)
        f" WHERE {_DAY_PAGE} ORDER BY created_at, id LIMIT $6"
    )
    # Both aggregate the page in the order its query gives it, the keyset order (an ORDER
    # BY in PostgreSQL's aggregates would sort each page once more).
    if dialect == "postgres":
        return (
            f"WITH page AS MATERIALIZED ({inner}),"  # noqa: S608 (constants only)
            " last AS (SELECT created_at, id FROM page ORDER BY created_at DESC, id DESC LIMIT 1)"
            " SELECT count(*) AS n, string_agg(reference, E'\\n') AS refs,"
            " string_agg(CAST(packed AS TEXT), ',') AS packed,"
            " (SELECT created_at FROM last) AS last_at, (SELECT id FROM last) AS last_id"
            " FROM page"
        )
    # SQLite runs the page as a co-routine feeding the aggregates in order (a second scan
    # of a materialised page for its last row cost a third of the query).
    return (
        "SELECT count(*) AS n, group_concat(reference, char(10)) AS refs,"  # noqa: S608 (constants only)
        " group_concat(packed, ',') AS packed, max(created_at) AS last_at,"
        f" group_concat(id, char(10)) AS ids FROM ({inner})"
    )


def _stored(row: Row, provider: str) -> StoredPayment:
    paid = row["paid_amount"]
    return StoredPayment(
        reference=str(row["reference"]),
        provider=provider,
        status=_STATUS_OF_TEXT[row["status"]],
        amount=compared_amount(int(row["amount"]), int(paid) if paid is not None else None),
    )
