"""The column paths equal the row paths they replace, on random and hostile input.

- :class:`PackedIndex` answers as the dict it replaces (:class:`DictIndex`): the same
  values, the same rows settled by ``match_common``, ``items()`` in the same order,
  including when every reference shares a hash with others (only the bytes tell them
  apart) and for references that are not ASCII.
- Each provider's ``_columns`` reads a page as its ``_transaction`` reads each row: the
  same rows up to the first malformed one, and the same error there.
- The store side's joined pages give what its row pages give, and fall back to them for
  a reference the joined form cannot carry (a line break).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from adapters.errors import UpstreamBadReply
from adapters.guard import Unguarded
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig
from bench.reconcile import PAYMENT_COLUMNS, payment_row
from gateway.payments.model import PaymentStatus
from gateway.payments.reconcile.index import DictIndex, PackedIndex
from gateway.payments.reconcile.store_side import CompactStoreSide, day_bounds_us, pack
from gateway.store import Store, StoreConfig, open_store
from tests.reconcile.conftest import DAY
from tests.store.conftest import FakeClock

STATES = tuple(PaymentStatus)
SHIFT = 4
UNSEEN = pack(PaymentStatus.PAID, 0)


def _reference(rng: random.Random) -> str:
    alphabet = "AB01é\u4e2d"  # not only ASCII: the index keeps UTF-8 bytes
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))


def _drive(index: Any, rng: random.Random, references: list[str]) -> list[Any]:
    """One random session against an index; everything it answered, in order."""
    answers: list[Any] = []
    for _ in range(40):
        ask = [rng.choice(references) for _ in range(rng.randint(0, 12))]
        amounts = [rng.choice((0, 10_000, 20_000)) for _ in ask]
        paid = [rng.random() < 0.8 for _ in ask]
        start = rng.randint(0, len(ask))
        answers.append(("match", index.match_common((ask, amounts, paid), start, (UNSEEN, SHIFT))))
        reference = rng.choice(references)
        answers.append(("get", reference, index.get(reference)))
        if rng.random() < 0.3:
            index[reference] = pack(rng.choice(STATES), rng.choice((0, 10_000)), seen=True)
    answers.append(("items", list(index.items()), len(index)))
    return answers


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("collide", [False, True])
def test_the_packed_index_answers_as_the_dict(seed: int, collide: bool) -> None:
    rng = random.Random(seed)
    references = list(dict.fromkeys(_reference(rng) for _ in range(60)))
    stored = references[: len(references) * 2 // 3]  # the rest are unknown, or added later
    pages = [stored[i : i + 7] for i in range(0, len(stored), 7)]
    values = {r: pack(rng.choice(STATES), rng.choice((0, 10_000, 20_000))) for r in stored}
    packed = PackedIndex(hash_of=(lambda key: len(key) % 3) if collide else hash)
    plain = DictIndex()
    for index in (packed, plain):
        for page in pages:
            index.add_page(page, [values[r] for r in page])
        index.freeze()
    assert _drive(packed, random.Random(seed), references) == _drive(
        plain, random.Random(seed), references
    )


def test_an_index_is_built_once() -> None:
    index = PackedIndex()
    index.add_page(["A"], [UNSEEN])
    index.freeze()
    with pytest.raises(RuntimeError):
        index.add_page(["B"], [UNSEEN])


def _dvcqg_row(rng: random.Random) -> Any:
    row: dict[str, Any] = {
        "MaThamChieu": rng.choice(["R1", 7, "Ré"]),
        "MaGiaoDich": rng.choice([None, "", "T1", 5]),
        "SoTien": rng.choice([10_000, "20000", 0]),
        "MaLoi": rng.choice(["00", "01", "99", "zz", 3]),
        "ThoiGianGD": rng.choice(["20260301101500", "", None, 5]),
    }
    return _spoil(rng, row, ("SoTien", "ThoiGianGD", "MaThamChieu"), ("-1", True, "1.5", "2026"))


def _vnpay_row(rng: random.Random) -> Any:
    row: dict[str, Any] = {
        "vnp_TxnRef": rng.choice(["R1", 7, "Ré"]),
        "vnp_TransactionNo": rng.choice([None, "", "0", "14", 14]),
        "vnp_Amount": rng.choice([1_000_000, "2000000", 0]),
        "vnp_ResponseCode": rng.choice(["00", "24", "", None]),
        "vnp_TransactionStatus": rng.choice(["00", "02", None]),
        "vnp_PayDate": rng.choice(["20260301101500", "", None]),
    }
    return _spoil(
        rng, row, ("vnp_Amount", "vnp_PayDate", "vnp_TxnRef"), ("-1", True, "150", "2026")
    )


def _spoil(
    rng: random.Random, row: dict[str, Any], keys: tuple[str, ...], bad: tuple[Any, ...]
) -> Any:
    roll = rng.random()
    if roll < 0.03:
        return ["not", "an", "object"]
    if roll < 0.06:
        del row[rng.choice(keys)]
    elif roll < 0.1:
        row[rng.choice(keys)] = rng.choice(bad)
    return row


def _rows_way(provider: Any, rows: list[Any]) -> tuple[list[Any], str | None]:
    read: list[Any] = []
    for row in rows:
        try:
            read.append(provider._transaction(row))
        except UpstreamBadReply as exc:
            return read, str(exc)
    return read, None


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("name", ["dvcqg", "vnpay"])
def test_column_pages_read_rows_as_the_row_reader(seed: int, name: str) -> None:
    rng = random.Random(seed)
    provider: Any
    if name == "dvcqg":
        provider = DvcqgProvider(DvcqgConfig(), None, Unguarded())  # type: ignore[arg-type]
        rows = [_dvcqg_row(rng) for _ in range(30)]
    else:
        config = VnpayConfig(pay_url="http://127.0.0.1:1/pay", api_url="http://127.0.0.1:1/api")
        provider = VnpayProvider(config, None, Unguarded())  # type: ignore[arg-type]
        rows = [_vnpay_row(rng) for _ in range(30)]
    expected, error = _rows_way(provider, rows)
    page, page_error = provider._columns(rows)
    assert [page.row(i) for i in range(len(page))] == [
        _without_at(transaction) for transaction in expected
    ]
    assert (str(page_error) if page_error is not None else None) == error


def _without_at(transaction: Any) -> Any:
    return type(transaction)(
        transaction.reference,
        transaction.provider_txn_id,
        transaction.amount,
        transaction.status,
        None,
    )


async def _seed(store: Store, references: list[str], broken_id: int | None = None) -> None:
    placeholders = ", ".join(f"${i + 1}" for i in range(len(PAYMENT_COLUMNS.split(","))))
    insert = f"INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({placeholders})"  # noqa: S608
    start = day_bounds_us(DAY)[0]
    async with store.transaction() as tx:
        for index, reference in enumerate(references):
            state = STATES[index % len(STATES)]
            at = start + (index // 3) * 1_000_000  # three payments a second: ties on created_at
            row = payment_row("dvcqg", reference, index, at, 1_000 * index, state)
            if index == broken_id:
                row = (f"pay\nbroken{index}", *row[1:])
            await tx.execute(insert, *row)


@pytest.mark.parametrize("line_break", [None, "reference", "id"])
async def test_joined_store_pages_give_the_row_pages(
    store_config: StoreConfig, clock: FakeClock, line_break: str | None, tmp_path: Path
) -> None:
    references = [f"J{i:05d}" for i in range(57)]
    if line_break == "reference":
        references[30] = "J\nBROKEN"  # cannot be joined by line breaks: that page is read by rows
    store = await open_store(store_config, clock=clock)
    try:
        await _seed(store, references, 39 if line_break == "id" else None)
        side = CompactStoreSide(store, page_size=10)
        joined = [page async for page in side.day_packed(DAY, "dvcqg")]
        by_rows: list[tuple[list[str], list[int]]] = []
        async for rows in side._pages(DAY, "dvcqg"):
            by_rows.append(
                (
                    [row["reference"] for row in rows],
                    [
                        pack(
                            PaymentStatus(row["status"]),
                            row["amount"] if row["paid_amount"] is None else row["paid_amount"],
                        )
                        for row in rows
                    ],
                )
            )
    finally:
        await store.close()
    assert joined == by_rows
    assert sum(len(page[0]) for page in joined) == len(references)
