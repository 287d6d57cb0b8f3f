"""The JSON Schema patterns of gateway/openapi.json, derived from the validators they describe.

Some rules of the gateway's validation are written in code, not as a regular
expression: the personal id's province codes (``gateway.citizens.cccd``), "no control
characters" in a name (categories Cc, Cf, Cs, Co, whitespace excepted: Python's
Unicode database), "not blank" (``str.split``/``str.strip`` whitespace) and the separators
and digit look-alikes python-stdnum's ``stdnum.vn.mst.compact`` drops or maps. This
module builds, from those same sources, the pattern that accepts exactly what the
code accepts; ``test_contract_document.py`` checks that the document carries these
patterns, so a change of rule (or of the Unicode database under a new Python) that
makes them drift fails the suite. ``python -m tests.contract.patterns`` writes them
into the document again.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from stdnum.util import clean

from gateway.citizens.cccd import PROVINCE_CODES
from gateway.citizens.verdicts import _NOT_IN_NAMES

OPENAPI = Path(__file__).resolve().parents[2] / "gateway" / "openapi.json"


def _ranges(pred: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    start: int | None = None
    for cp in range(sys.maxunicode + 1):
        hit = pred(chr(cp))
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            yield start, cp - 1
            start = None
    if start is not None:
        yield start, sys.maxunicode


def _char(cp: int) -> str:
    """One code point inside a character class (escaped when it is not a plain visible one)."""
    if cp <= 0xFFFF and not (0x21 <= cp <= 0x7E and chr(cp) not in "\\]^-["):
        return f"\\u{cp:04x}"
    if cp > 0xFFFF:
        return chr(cp)  # a literal astral character: one code point for Python, Rust and ES u-mode
    return chr(cp)


def _without_surrogates(ranges: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Lone surrogates are not Unicode text: no JSON Schema validator or regex engine
    but Python's takes them in a pattern, so they are left out (the server still refuses
    one that arrives as a ``\\ud800`` escape)."""
    for lo, hi in ranges:
        if hi < 0xD800 or lo > 0xDFFF:
            yield lo, hi
            continue
        if lo < 0xD800:
            yield lo, 0xD7FF
        if hi > 0xDFFF:
            yield 0xE000, hi


def _class(ranges: list[tuple[int, int]]) -> str:
    parts = []
    for lo, hi in _without_surrogates(ranges):
        if lo == hi:
            parts.append(_char(lo))
        elif hi == lo + 1:
            parts.append(_char(lo) + _char(hi))
        else:
            parts.append(f"{_char(lo)}-{_char(hi)}")
    return "".join(parts)


@cache
def _whitespace() -> list[tuple[int, int]]:
    """What ``str.isspace`` (so ``str.split``/``str.strip``) treats as whitespace."""
    return list(_ranges(str.isspace))


def id_number_pattern() -> str:
    """12 ASCII digits whose first three are a province code of birth registration."""
    provinces = "|".join(sorted(PROVINCE_CODES))
    return f"^(?:{provinces})[0-9]{{9}}$"


@cache
def name_pattern() -> str:
    """A claimed full name: not blank; no control, format, surrogate or private-use character.

    Whitespace is allowed (``gateway.citizens.verdicts._NOT_IN_NAMES``).
    """
    forbidden = list(
        _ranges(lambda ch: unicodedata.category(ch) in _NOT_IN_NAMES and not ch.isspace())
    )
    ws = _class(_whitespace())
    bad = _class(forbidden)
    return f"^[{ws}]*[^{bad}{ws}][^{bad}]*$"


@cache
def not_blank_pattern() -> str:
    """Any text with at least one character that is not whitespace."""
    ws = _class(_whitespace())
    return f"^[{ws}]*[^{ws}][\\s\\S]*$"


@cache
def tax_code_pattern() -> str:
    """10 or 13 digits (or their look-alikes), with what ``mst.compact`` drops around them.

    ``compact`` maps Unicode look-alikes to ASCII, deletes spaces, dashes and dots
    anywhere, then strips whitespace at both ends; the rest must be 10 or 13 ASCII
    digits (the check digit and the registry's other rules are beyond a pattern).
    """
    digits = list(_ranges(lambda ch: len(clean(ch)) == 1 and "0" <= clean(ch) <= "9"))
    separators = list(_ranges(lambda ch: clean(ch, " -.") == ""))
    ends = sorted(set(_whitespace()) | set(separators))
    d, s, e = _class(digits), _class(separators), _class(_merge(ends))
    return f"^[{e}]*[{d}](?:[{s}]*[{d}]){{9}}(?:(?:[{s}]*[{d}]){{3}})?[{e}]*$"


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def expected_patterns() -> dict[str, str]:
    """JSON pointer (into the document) → the pattern the code implies there."""
    schemas = "/components/schemas"
    return {
        f"{schemas}/IdentityClaim/properties/id_number/pattern": id_number_pattern(),
        f"{schemas}/IdentityClaim/properties/full_name/pattern": name_pattern(),
        f"{schemas}/LookupRequest/properties/id_number/pattern": id_number_pattern(),
        f"{schemas}/PaymentRequest/properties/payer/properties/full_name/pattern": (
            not_blank_pattern()
        ),
        f"{schemas}/PaymentRequest/properties/fee_lines/items/properties/name/pattern": (
            not_blank_pattern()
        ),
        f"{schemas}/TaxCode/pattern": tax_code_pattern(),
        # The request context (issue 14): the officer's id as a citizen's, free text as names.
        **{
            f"{schemas}/{body}/properties/{field}/pattern": pattern
            for body in ("IdentityClaim", "LookupRequest")
            for field, pattern in (
                ("officer_id", id_number_pattern()),
                ("purpose", name_pattern()),
                ("dossier_code", name_pattern()),
            )
        },
    }


def resolve(doc: dict[str, object], pointer: str) -> object:
    """The value at a JSON pointer (``~1`` for ``/``)."""
    node: object = doc
    for part in pointer.lstrip("/").split("/"):
        assert isinstance(node, dict), pointer
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def write() -> None:
    """Put the expected patterns into gateway/openapi.json."""
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    for pointer, pattern in expected_patterns().items():
        *parents, last = pointer.lstrip("/").split("/")
        parent = resolve(doc, "/" + "/".join(parents))
        assert isinstance(parent, dict)
        parent[last] = pattern
    OPENAPI.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
