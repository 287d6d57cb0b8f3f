"""The verdict scale shared by names, birth dates and whole claims (no dependencies)."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """How one claimed field (or the whole claim) compares with the registry.

    ``match`` — equal after normalisation. ``match_without_diacritics`` — a name
    equal only once accents are folded away (weaker: say so to the officer).
    ``mismatch`` — the registry holds something different. ``not_found`` — the
    registry holds nothing to compare with (no citizen, or no value for that field).
    """

    MATCH = "match"
    MATCH_WITHOUT_DIACRITICS = "match_without_diacritics"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
