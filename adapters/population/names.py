"""Vietnamese personal names as the population service's wire wants them."""

from __future__ import annotations

import unicodedata

_D_MAP = str.maketrans({"Đ": "D", "đ": "d"})


def fold_name_for_request(name: str) -> str:
    """Fold a name as one production client sends ``HoVaTen``: ``Nguyễn Văn A`` → ``NGUYENVANA``.

    Accents removed, Đ/đ mapped to D (it has no Unicode decomposition), spaces and
    punctuation removed, upper case.
    """
    decomposed = unicodedata.normalize("NFD", name.translate(_D_MAP))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in bare if c.isalnum()).upper()


def split_full_name(name: str) -> tuple[str, str, str]:
    """Split an NFC full name into (Ho, ChuDem, Ten): first word, middle words, last word."""
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]
