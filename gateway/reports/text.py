"""The report's words (Vietnamese first, English on request) and its numbers as each writes them.

Vietnamese writes thousands with a dot and decimals with a comma
(``1.250.000 ₫``, ``87,5 %``); English the other way round (``1,250,000 ₫``,
``87.5 %``). The dong sign follows the amount after a no-break space.

The words themselves are data, in ``words.toml`` beside this module (one table a
word: its ``vi`` and its ``en``), read once at import.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from typing import Literal

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
NBSP = "\u00a0"


def _load_words() -> dict[str, dict[Lang, str]]:
    """``words.toml``, each word in both languages (a missing one fails the import)."""
    text = resources.files(__package__).joinpath("words.toml").read_text(encoding="utf-8")
    return {
        key: {lang: entry[lang] for lang in LANGS} for key, entry in tomllib.loads(text).items()
    }


WORDS: dict[str, dict[Lang, str]] = _load_words()


def word(key: str, lang: Lang) -> str:
    """The text of ``key`` (the key itself when it has none: an unknown system's name)."""
    entry = WORDS.get(key)
    return entry[lang] if entry else key


def integer(n: int, lang: Lang) -> str:
    """``1250000`` → ``1.250.000`` (vi) or ``1,250,000`` (en)."""
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "vi" else text


def dong(amount: int, lang: Lang) -> str:
    """An amount in VND: ``1.250.000 ₫``."""
    return f"{integer(amount, lang)}{NBSP}₫"


def percent(share: float | None, lang: Lang) -> str:
    """``0.875`` → ``87,5 %`` (vi) / ``87.5 %`` (en); ``–`` when there is nothing to divide."""
    if share is None:
        return "–"
    text = f"{share * 100:.1f}"
    return f"{text.replace('.', ',') if lang == 'vi' else text}{NBSP}%"


def duration(seconds: float | None, lang: Lang) -> str:
    """A wait as people say it: ``45 giây``, ``12 phút``, ``3 giờ 5 phút`` / ``45 s`` …"""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s}{NBSP}giây" if lang == "vi" else f"{s}{NBSP}s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes}{NBSP}phút" if lang == "vi" else f"{minutes}{NBSP}min"
    hours, rest = divmod(minutes, 60)
    if lang == "vi":
        return f"{hours}{NBSP}giờ {rest}{NBSP}phút"
    return f"{hours}{NBSP}h {rest}{NBSP}min"


def day(d: date, lang: Lang) -> str:
    """``01/10/2026`` (both languages: the city's documents write dates so)."""
    return d.strftime("%d/%m/%Y")


def short_day(d: date) -> str:
    return d.strftime("%d/%m")


def code_or_blank(code: str, lang: Lang) -> str:
    return code if code else word("not_given", lang)
