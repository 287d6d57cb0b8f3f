"""Vietnamese personal names as the population service's wire wants them: split in parts.

Folding a name for ``HoVaTen`` (``fold_name_in_request``) is not done here: the
gateway's one name normaliser (:mod:`gateway.citizens.names`) does it and is
handed to :class:`~adapters.population.client.PopulationClient` as ``fold_name``.
"""

from __future__ import annotations

import unicodedata


def split_full_name(name: str) -> tuple[str, str, str]:
    """Split an NFC full name into (Ho, ChuDem, Ten): first word, middle words, last word."""
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]
