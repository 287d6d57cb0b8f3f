"""What every payment provider takes and gives, and the protocol the gateway calls.

The gateway keeps the ledger; a provider only speaks its wire protocol:

- :meth:`PaymentProvider.create` registers an order and returns the URL the payer opens;
- :meth:`PaymentProvider.parse_callback` verifies a callback (or the payer's signed
  return) and raises :class:`CallbackRejected` when the checksum or shape fails;
- :meth:`PaymentProvider.answer_callback` builds the reply in the provider's format;
- :meth:`PaymentProvider.query_status` asks the provider about one payment;
- :meth:`PaymentProvider.list_transactions` streams one day's transactions page by page.

Amounts are whole dong everywhere in these types (VNPay's ×100 stays in its adapter).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from adapters.aliases import VIETNAM_TZ
from adapters.errors import AdapterError, UpstreamBadReply, UpstreamTimeout
from adapters.payment.config import ProviderStatus

REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9]{1,20}$")

FeeKind = Literal["fee", "charge"]
CallbackOutcome = Literal[
    "confirmed", "already_confirmed", "not_found", "amount_mismatch", "rejected", "error"
]


def vietnam_now() -> dt.datetime:
    """The current time in Vietnam (the default clock of providers and sandboxes)."""
    return dt.datetime.now(VIETNAM_TZ)


@dataclass(frozen=True)
class FeeLine:
    """One line of the receipt (``PhiLePhi``): a fee (phí) or a charge (lệ phí)."""

    kind: FeeKind
    code: str
    name: str
    amount: int

    def __post_init__(self) -> None:
        if self.kind not in ("fee", "charge"):
            raise ValueError("fee line kind must be 'fee' or 'charge'")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError("fee line amount must be a whole, non-negative number of dong")


@dataclass(frozen=True)
class PaymentOrder:
    """One payment the gateway asks a provider to collect.

    ``return_url`` is the calling system's page; providers send the payer back to the
    gateway's own return endpoint (from their config), and the gateway forwards.
    """

    reference: str
    amount: int
    description: str
    dossier_code: str
    procedure_code: str
    agency_code: str
    agency_name: str
    payer_name: str = field(repr=False)
    payer_id_number: str = field(repr=False)
    return_url: str
    client_ip: str
    created_at: dt.datetime
    expires_at: dt.datetime
    fee_lines: tuple[FeeLine, ...] = ()
    currency: str = "VND"

    def __post_init__(self) -> None:
        if not REFERENCE_PATTERN.fullmatch(self.reference):
            raise ValueError("reference must be 1-20 characters of [A-Za-z0-9]")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise ValueError("amount must be a positive whole number of dong")
        if self.currency != "VND":
            raise ValueError("only VND is supported")
        if self.created_at.tzinfo is None or self.expires_at.tzinfo is None:
            raise ValueError("created_at and expires_at must carry a time zone")
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
        if self.fee_lines and sum(line.amount for line in self.fee_lines) != self.amount:
            raise ValueError("fee lines must add up to the amount")


@dataclass(frozen=True)
class CreatedPayment:
    """Where to send the payer, and the provider's own id for the payment if it gave one."""

    pay_url: str
    provider_reference: str | None = None


@dataclass(frozen=True)
class CallbackResult:
    """A verified callback (or signed payer return). ``amount`` is what the provider reported.

    ``whole_dong`` is False when the provider reported a fraction of a dong (a VNPay
    ``vnp_Amount`` that is not a multiple of 100); ``amount`` is then rounded down
    and the gateway treats it as an amount that differs from the bill. It is False
    too, with ``amount`` 0, when a signed message carries no readable number of
    dong at all (VNPay's reference compares such an amount with the bill and
    answers "invalid amount"), and for a currency other than VND.
    ``for_this_merchant`` is False when the (correctly signed) message names another
    merchant (VNPay ``vnp_TmnCode``, dvcqg ``MaDoiTac``): the gateway answers that
    it does not know the order.
    """

    reference: str
    provider_txn_id: str | None
    status: ProviderStatus
    amount: int
    paid_at: dt.datetime | None
    raw_code: str
    verified: bool
    whole_dong: bool = True
    for_this_merchant: bool = True


@dataclass(frozen=True)
class StatusResult:
    """The provider's answer to a status query; ``unknown`` when it does not know the reference."""

    reference: str
    status: ProviderStatus
    amount: int | None
    provider_txn_id: str | None
    raw_code: str


@dataclass(frozen=True)
class Transaction:
    """One row of a day's transaction list (for reconciliation)."""

    reference: str
    provider_txn_id: str | None
    amount: int
    status: ProviderStatus
    at: dt.datetime | None


#: Rows yielded between two turns given to the event loop while the next page is fetched
#: (a turn reads one chunk of its reply: a page needs a few dozen).
_ROWS_PER_TURN = 100


async def stream_pages(
    fetch_page: Callable[[int], Awaitable[tuple[list[Any], int]]],
    to_transaction: Callable[[Any], Transaction],
) -> AsyncIterator[Transaction]:
    """A day list, pages 1 to the count the provider gives, at most two pages in memory.

    ``fetch_page(n)`` returns page ``n``'s raw rows and the number of pages. Page
    ``n + 1`` is asked for once the first :data:`_ROWS_PER_TURN` rows of page ``n``
    have been taken (the provider builds it while the rest are), with a turn of the
    event loop every :data:`_ROWS_PER_TURN` rows so that its request goes out and
    its reply comes in; it is cancelled if the consumer stops early.
    """
    async with contextlib.aclosing(_row_chunks(fetch_page)) as chunks:
        async for chunk in chunks:
            for row in chunk:
                yield to_transaction(row)


async def _row_chunks(
    fetch_page: Callable[[int], Awaitable[tuple[list[Any], int]]],
) -> AsyncGenerator[list[Any], None]:
    """The raw rows of :func:`stream_pages`, :data:`_ROWS_PER_TURN` at a time, a turn between."""
    page = 1
    rows, pages = await fetch_page(page)
    step = _ROWS_PER_TURN
    while True:
        ahead: asyncio.Future[tuple[list[Any], int]] | None = None
        try:
            for start in range(0, len(rows), step):
                if start and page < pages:
                    if ahead is None:
                        ahead = asyncio.ensure_future(fetch_page(page + 1))
                    await asyncio.sleep(0)
                yield rows[start : start + step]
        except BaseException:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
            raise
        if page >= pages:
            return
        page += 1
        if ahead is None:
            rows, pages = await fetch_page(page)
            continue
        try:
            rows, pages = await ahead
        except UpstreamTimeout:
            # Its clock ran while this process was busy with the page before: ask once more.
            rows, pages = await fetch_page(page)


@dataclass(slots=True)
class TransactionPage:
    """Consecutive rows of a day's list as columns (reconciliation reads a million rows
    without a :class:`Transaction` each). ``row(i)`` is the row as a Transaction, its
    ``at`` left out (checked when the page was read, not kept)."""

    references: list[str]
    txn_ids: list[str | None]
    amounts: list[int]
    statuses: list[ProviderStatus]

    def __len__(self) -> int:
        return len(self.references)

    def row(self, index: int) -> Transaction:
        return Transaction(
            self.references[index],
            self.txn_ids[index],
            self.amounts[index],
            self.statuses[index],
            None,
        )


#: ``to_columns(rows)``: the rows read, and the error the first unreadable one raised.
ToColumns = Callable[[list[Any]], tuple[TransactionPage, Exception | None]]


async def stream_column_pages(
    fetch_page: Callable[[int], Awaitable[tuple[list[Any], int]]], to_columns: ToColumns
) -> AsyncIterator[TransactionPage]:
    """:func:`stream_pages` as column pages of :data:`_ROWS_PER_TURN` rows, fetched alike.

    The error of a malformed row is raised once the rows before it were taken, as
    :func:`stream_pages` raises it.
    """
    async with contextlib.aclosing(_row_chunks(fetch_page)) as chunks:
        async for chunk in chunks:
            columns, error = to_columns(chunk)
            yield columns
            if error is not None:
                raise error


#: One day-list row as :class:`TransactionPage` keeps it: reference, txn id, amount, status.
RowFields = tuple[str, str | None, int, ProviderStatus]


class ColumnDayList:
    """``list_transaction_pages`` for a provider client that reads one page with
    ``_fetch_page(day, n)`` and one row's fields with ``_row_fields(row)``."""

    #: The upstream named in a malformed row's error.
    day_list_upstream = ""

    async def _fetch_page(self, day: dt.date, page: int) -> tuple[list[Any], int]:
        raise NotImplementedError

    #: The row's timestamp field (``yyyyMMddHHmmss``), kept by :meth:`_transaction`.
    day_list_time_field = ""

    def _row_fields(self, row: dict[str, Any]) -> RowFields:
        raise NotImplementedError

    def _transaction(self, raw: Any) -> Transaction:
        """One row as a :class:`Transaction`: :meth:`_row_fields`, its timestamp kept."""
        with malformed_row(self.day_list_upstream):
            row = row_object(raw)
            reference, txn_id, amount, status = self._row_fields(row)
            at_text = row.get(self.day_list_time_field)
            return Transaction(
                reference=reference,
                provider_txn_id=txn_id,
                amount=amount,
                status=status,
                at=parse_provider_timestamp(at_text)
                if isinstance(at_text, str) and at_text
                else None,
            )

    async def list_transaction_pages(self, day: dt.date) -> AsyncIterator[TransactionPage]:
        """``list_transactions`` as column pages (the same rows, no object per row)."""
        async for page in stream_column_pages(
            functools.partial(self._fetch_page, day), self._columns
        ):
            yield page

    def _columns(self, rows: list[Any]) -> tuple[TransactionPage, Exception | None]:
        """Each row's fields as columns; stops at the first malformed row, returning its error."""
        page = TransactionPage([], [], [], [])
        references, txn_ids = page.references.append, page.txn_ids.append
        amounts, statuses = page.amounts.append, page.statuses.append
        read = self._row_fields
        try:
            with malformed_row(self.day_list_upstream):
                for row in rows:
                    if not isinstance(row, dict):
                        raise ValueError("row is not an object")
                    reference, txn_id, amount, status = read(row)
                    references(reference)
                    txn_ids(txn_id)
                    amounts(amount)
                    statuses(status)
        except UpstreamBadReply as exc:
            return page, exc
        return page, None


_DAY_LIST = "list_transactions"


def page_rows(reply: Any, key: str, *, upstream: str) -> list[Any]:
    """A day-list page's rows (the list under ``key``); UpstreamBadReply when there is none."""
    if not isinstance(reply, dict) or not isinstance(reply.get(key), list):
        raise UpstreamBadReply("day list page is malformed", upstream=upstream, operation=_DAY_LIST)
    rows: list[Any] = reply[key]
    return rows


def page_count(reply: Mapping[str, Any], key: str, *, upstream: str) -> int:
    """A day-list page's number of pages (under ``key``); UpstreamBadReply unless it is one."""
    pages = reply.get(key)
    if not isinstance(pages, int) or pages < 0:
        raise UpstreamBadReply(
            "day list page count is invalid", upstream=upstream, operation=_DAY_LIST
        )
    return pages


@contextlib.contextmanager
def malformed_row(upstream: str) -> Iterator[None]:
    """Reading day-list rows: a missing key or a bad value is UpstreamBadReply."""
    try:
        yield
    except (KeyError, ValueError):
        raise UpstreamBadReply(
            "day list row is malformed", upstream=upstream, operation=_DAY_LIST
        ) from None


def row_object(row: Any) -> dict[str, Any]:
    """A day-list row as the JSON object it must be.

    ValueError when it is none (UpstreamBadReply inside :func:`malformed_row`).
    """
    if not isinstance(row, dict):
        raise ValueError("row is not an object")
    return row


@dataclass(frozen=True)
class ProviderAnswer:
    """The HTTP reply to send back to the provider for a callback."""

    status: int
    content_type: str
    body: bytes


class CallbackRejected(AdapterError):
    """A callback failed verification (checksum, shape, partner). Never act on it.

    ``answer`` is the reply the provider expects for such a callback; ``kind`` is
    ``bad_checksum``, ``malformed`` or ``wrong_partner`` (for the security event).
    Both adapters raise it only for what they cannot verify, or what is no result
    message at all: a correctly signed result is reported, with ``for_this_merchant``
    and ``whole_dong`` saying what is off, so the gateway answers it as published.
    """

    status = 400
    problem_type = "payment-callback-rejected"
    title = "Payment callback rejected"
    counts_as_failure = False

    def __init__(
        self,
        reason: str,
        answer: ProviderAnswer,
        *,
        kind: str = "malformed",
        upstream: str | None = None,
    ) -> None:
        super().__init__(reason, upstream=upstream, operation="callback")
        self.reason = reason
        self.answer = answer
        self.kind = kind


class PaymentProvider(Protocol):
    """One payment provider's wire protocol, as the gateway's payment routes use it."""

    @property
    def name(self) -> str: ...

    async def create(self, order: PaymentOrder) -> CreatedPayment: ...

    def parse_callback(
        self, method: str, query: Mapping[str, str], body: bytes
    ) -> CallbackResult: ...

    def answer_callback(
        self,
        result_or_error: CallbackResult | CallbackRejected | None,
        *,
        outcome: CallbackOutcome,
    ) -> ProviderAnswer: ...

    async def query_status(self, reference: str, *, created_at: dt.datetime) -> StatusResult: ...

    def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]: ...


class PaymentProviders:
    """The configured providers by name, and the default used when a payment names none."""

    def __init__(self, providers: Mapping[str, PaymentProvider], default: str) -> None:
        if default not in providers:
            raise ValueError(f"default payment provider {default!r} is not configured")
        self._providers = dict(providers)
        self.default = default

    def get(self, name: str | None = None) -> PaymentProvider:
        """The provider called ``name`` (or the default); ``KeyError`` if not configured."""
        return self._providers[name or self.default]

    def names(self) -> list[str]:
        return sorted(self._providers)


def provider_timestamp(moment: dt.datetime) -> str:
    """``yyyyMMddHHmmss`` in Vietnam time, the timestamp format of both providers."""
    return moment.astimezone(VIETNAM_TZ).strftime("%Y%m%d%H%M%S")


def paid_time(text: str) -> dt.datetime | None:
    """When a callback says the payer paid (``yyyyMMddHHmmss``), or None when it does not
    say readably: no provider's reference reads it, and the gateway keeps its own time."""
    try:
        return parse_provider_timestamp(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=65_536)
def parse_provider_timestamp(text: str) -> dt.datetime:
    """A ``yyyyMMddHHmmss`` Vietnam-time timestamp; ``ValueError`` if it is not one."""
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        raise ValueError("not a yyyyMMddHHmmss timestamp")
    # Sliced by hand: strptime costs ~20 µs a call, and a day list has a million rows;
    # cached, since a day has 86,400 seconds and a busy list repeats them.
    return dt.datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        int(text[12:14]),
        tzinfo=VIETNAM_TZ,
    )


#: Timestamps :func:`check_provider_timestamp` found valid (forgotten past the cap).
_CHECKED_TIMESTAMPS: set[str] = set()
_CHECKED_TIMESTAMPS_CAP = 200_000


def check_provider_timestamp(text: str) -> None:
    """:func:`parse_provider_timestamp`'s check alone, ``ValueError`` alike; remembered.

    A day list has a million rows over 86,400 seconds in no order the LRU cache
    of the parser keeps up with; a set of the strings seen valid does.
    """
    if text in _CHECKED_TIMESTAMPS:
        return
    parse_provider_timestamp(text)
    if len(_CHECKED_TIMESTAMPS) >= _CHECKED_TIMESTAMPS_CAP:
        _CHECKED_TIMESTAMPS.clear()
    _CHECKED_TIMESTAMPS.add(text)


def whole_dong(value: object) -> int:
    """A non-negative whole amount from a JSON number or a decimal string; ``ValueError`` else."""
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        amount = int(value)
    else:
        raise ValueError("not an amount")
    if amount < 0:
        raise ValueError("negative amount")
    return amount
