"""The day's payments as the engine looks them up: ``reference → packed int``, a million lean.

Two indexes behave alike (``get``, item assignment, ``items()`` in insertion order, and
:meth:`match_common`, the engine's shortcut for the common row):

- :class:`PackedIndex` holds a million payments in about 50 MB instead of the ~150 MB a
  ``dict[str, int]`` takes: the references as one UTF-8 byte string with their start
  offsets, the packed values, the references' hashes, all in :mod:`array` columns, and an
  open-addressing table of positions built once the store has been read. A lookup hashes
  the reference's bytes, probes the table and compares the bytes themselves, so two
  references sharing a hash are still told apart. References added after the build
  (payments of another day, found by lookup) go to a small dict after the columns, as
  they went to the end of the dict before.
- :class:`DictIndex` is that plain dict (the general path, used with the ledger's reads).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, islice

#: ``match_common``'s row columns: the references, the amounts, and whether each row is paid.
CommonRows = tuple[Sequence[str], Sequence[int], Sequence[bool]]


class DictIndex:
    """``reference → packed`` in a dict (the general path)."""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._values)

    def add_page(self, references: Sequence[str], values: Sequence[int]) -> None:
        """Payments read from the store, in the store's order."""
        self._values.update(zip(references, values, strict=True))

    def freeze(self) -> None:
        """The store has been read (nothing to build for a dict)."""

    def get(self, reference: str) -> int | None:
        return self._values.get(reference)

    def __setitem__(self, reference: str, value: int) -> None:
        self._values[reference] = value

    def items(self) -> Iterator[tuple[str, int]]:
        return iter(self._values.items())

    def match_common(self, rows: CommonRows, start: int, common: tuple[int, int]) -> int:
        """Settle rows from ``start`` while each is the common one; the first that is not.

        With ``common`` = ``(unseen, shift)``, the common row is paid at the provider and
        its packed value here is exactly ``unseen | amount << shift`` (paid, same amount,
        not seen yet): it is marked seen (``| 1``). Returns the index of the first row
        that is not common (or the number of rows), which the engine decides the general way.
        """
        (references, amounts, paid), (unseen, shift) = rows, common
        values = self._values
        for i in range(start, len(references)):
            reference = references[i]
            packed = values.get(reference)
            if not paid[i] or packed is None or packed != unseen | (amounts[i] << shift):
                return i
            values[reference] = packed | 1
        return len(references)


class PackedIndex:
    """``reference → packed`` in array columns and an open-addressing table (see module)."""

    def __init__(self, *, hash_of: Callable[[bytes], int] = hash) -> None:
        self._hash_of = hash_of
        self._blob = bytearray()
        self._starts = array("Q", [0])  # reference i is blob[starts[i]:starts[i + 1]]
        self._values = array("q")
        self._hashes = array("q")
        self._table = array("I")
        self._mask = 0
        self._extra: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._values) + len(self._extra)

    def add_page(self, references: Sequence[str], values: Sequence[int]) -> None:
        """Payments read from the store, in the store's order (references unique)."""
        if self._mask:
            raise RuntimeError("the index is already built")
        keys = [reference.encode() for reference in references]
        self._values.extend(values)
        base = self._starts[-1]
        self._starts.extend(islice(accumulate(map(len, keys), initial=base), 1, None))
        self._blob += b"".join(keys)
        self._hashes.extend(map(self._hash_of, keys))

    def freeze(self) -> None:
        """Build the table (twice as many slots as payments, at least 8)."""
        size = 8
        while size < 2 * len(self._values):
            size *= 2
        table = array("I", bytes(size * 4))
        mask = size - 1
        for position, digest in enumerate(self._hashes, 1):
            slot = digest & mask
            while table[slot]:
                slot = (slot + 1) & mask
            table[slot] = position
        self._table, self._mask = table, mask

    def _position(self, key: bytes) -> int:
        """The column position of ``key``, or -1."""
        table, mask, hashes, blob, starts = (
            self._table,
            self._mask,
            self._hashes,
            self._blob,
            self._starts,
        )
        digest = self._hash_of(key)
        slot = digest & mask
        while position := table[slot]:
            if (
                hashes[position - 1] == digest
                and blob[starts[position - 1] : starts[position]] == key
            ):
                return position - 1
            slot = (slot + 1) & mask
        return -1

    def get(self, reference: str) -> int | None:
        if self._mask:
            position = self._position(reference.encode())
            if position >= 0:
                return self._values[position]
        return self._extra.get(reference)

    def __setitem__(self, reference: str, value: int) -> None:
        position = self._position(reference.encode()) if self._mask else -1
        if position >= 0:
            self._values[position] = value
        else:
            self._extra[reference] = value

    def items(self) -> Iterator[tuple[str, int]]:
        blob, starts = self._blob, self._starts
        for position, value in enumerate(self._values):
            yield blob[starts[position] : starts[position + 1]].decode(), value
        yield from self._extra.items()

    def match_common(self, rows: CommonRows, start: int, common: tuple[int, int]) -> int:
        """:meth:`DictIndex.match_common` on the columns (the same rows, the same marks)."""
        if not self._mask:
            return start
        (references, amounts, paid), (unseen, shift) = rows, common
        table, mask, hashes, blob, starts, values, hash_of = (
            self._table,
            self._mask,
            self._hashes,
            self._blob,
            self._starts,
            self._values,
            self._hash_of,
        )
        for i in range(start, len(references)):
            if not paid[i]:
                return i
            key = references[i].encode()
            digest = hash_of(key)
            slot = digest & mask
            while True:
                position = table[slot]
                if not position:
                    return i  # not among the day's columns: the general way decides
                position -= 1
                if (
                    hashes[position] == digest
                    and blob[starts[position] : starts[position + 1]] == key
                ):
                    break
                slot = (slot + 1) & mask
            packed = values[position]
            if packed != unseen | (amounts[i] << shift):
                return i
            values[position] = packed | 1
        return len(references)
