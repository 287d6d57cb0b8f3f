"""Vietnamese name normalisation, accent folding and the name verdict."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.identity import Verdict, compare_names, fold_for_request, fold_name, normalize_name
from gateway.identity.names import normalize_tone_placement


def test_nfd_input_equals_nfc() -> None:
    """A name typed in NFD compares equal (match) to the same name in NFC."""
    nfc = unicodedata.normalize("NFC", "Nguyễn Thị Thúy")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalize_name(nfd) == normalize_name(nfc)
    assert compare_names(nfd, nfc) is Verdict.MATCH


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Hòa", "Hoà"),
        ("Thủy", "Thuỷ"),
        ("Khỏe", "Khoẻ"),
        ("Qúy", "Quý"),
        ("HÒA", "HOÀ"),
        ("THỦY", "THUỶ"),
        ("KHỎE", "KHOẺ"),
        ("QÚY", "QUÝ"),
        ("Gìa", "Già"),
        ("Ngòai", "Ngoài"),
        ("Thủơ", "Thuở"),
        ("Hòang", "Hoàng"),
        ("Qùynh", "Quỳnh"),
        ("Phạm Ngọc Hòa", "Phạm Ngọc Hoà"),
        ("Trần Thị Thuỷ", "Trần Thị Thủy"),
    ],
)
def test_tone_placement_variants_match(one: str, other: str) -> None:
    """Tone marks placed old style, new style or misplaced on qu/gi compare as match."""
    assert normalize_name(one) == normalize_name(other)
    assert compare_names(one, other) is Verdict.MATCH


@pytest.mark.parametrize(
    ("written", "new_style"),
    [
        ("Hòa", "Hoà"),
        ("Thủy", "Thuỷ"),
        ("KHỎE", "KHOẺ"),
        ("Qúy", "Quý"),
        ("Gịa", "Giạ"),
        ("thủơ", "thuở"),
        ("Ngòai", "Ngoài"),
        ("Khủyu", "Khuỷu"),
    ],
)
def test_tone_placement_is_new_style_and_keeps_case(written: str, new_style: str) -> None:
    """The chosen convention puts the mark on the main vowel (new style), keeping letter case."""
    assert normalize_tone_placement(written) == unicodedata.normalize("NFC", new_style)


@pytest.mark.parametrize(
    "correct", ["gìn", "Giữa", "Quỳnh", "Quốc", "Nguyễn", "Hữu", "Rượu", "Tuyết"]
)
def test_correct_spellings_are_left_in_place(correct: str) -> None:
    """Already well-placed marks (including the gi/qu initials) do not move."""
    assert normalize_tone_placement(correct) == correct


def test_foreign_syllables_are_not_rearranged() -> None:
    """A word that is not one Vietnamese syllable keeps its accents where they were."""
    assert normalize_name("Sébastien") == "sébastien"
    assert normalize_name("Andrés") == "andrés"


def test_case_and_odd_whitespace_are_folded() -> None:
    """Lower case, tabs, no-break spaces and extra spaces still give match."""
    given = "  nguyễn\tvăn\u00a0\u00a0an \n"
    assert normalize_name(given) == "nguyễn văn an"
    assert compare_names(given, "Nguyễn Văn An") is Verdict.MATCH


def test_d_with_stroke_folds_to_d() -> None:
    """Đ/đ folds to D, so an unaccented name is a match without diacritics."""
    assert fold_name("Lê Đức Anh") == "LE DUC ANH"
    assert fold_name("đào") == "DAO"
    assert compare_names("Le Duc Anh", "Lê Đức Anh") is Verdict.MATCH_WITHOUT_DIACRITICS


def test_different_tone_is_only_a_match_without_diacritics() -> None:
    """Two names differing by a tone mark are not a plain match."""
    assert compare_names("Nguyễn Văn Ân", "Nguyễn Văn An") is Verdict.MATCH_WITHOUT_DIACRITICS


@pytest.mark.parametrize(
    ("given", "registered"),
    [
        ("Nguyễn Văn Anh", "Nguyễn Văn An"),
        ("Trần Thị Thủy Tiên", "Trần Thị Thủy"),
        ("NguyenVan An", "Nguyễn Văn An"),
        ("Van An Nguyen", "Nguyễn Văn An"),
    ],
)
def test_different_names_mismatch(given: str, registered: str) -> None:
    """Any other difference (letters, extra word, joined words, order) is a mismatch: no fuzz."""
    assert compare_names(given, registered) is Verdict.MISMATCH


def test_fold_for_request_drops_spaces_and_punctuation() -> None:
    """The request folding is upper case ASCII letters only ("NGUYENVANA")."""
    assert fold_for_request("Nguyễn Văn A") == "NGUYENVANA"
    assert fold_for_request("H'Hen  Niê") == "HHENNIE"
    assert fold_for_request("Huỳnh Thị Ánh Tuyết") == "HUYNHTHIANHTUYET"


#: Names that stress the word-by-word path: marks after spaces, odd spaces, NFD, loan words,
#: several tone marks, digits and punctuation inside words.
_AWKWARD_NAMES = [
    "Nguyễn Văn An",
    unicodedata.normalize("NFD", "Huỳnh Thị Ánh Tuyết"),
    "  Phạm\tNgọc\u00a0Hoà  ",
    "Lê \u0301Đức Anh",  # a combining mark right after a space
    "\u0300 Trần",  # … and at the very start
    "TRẦN THỊ THUỶ",
    "Qúy Gìa Khoẻ Thủy",
    "Nguyễn-Văn O'Brien",
    "Hòa2 Lý.Thị",
    "Jean-Pierre Nguyễn",
    "Ðặng Đức",
    "Mà́i",  # two tone marks: left alone
    "Hoà" + "ng" * 40 + " Thuỷ",  # a word too long to be cached
    "",
    "   ",
]


@pytest.mark.parametrize("name", _AWKWARD_NAMES)
def test_word_by_word_normalisation_equals_whole_name(name: str) -> None:
    """normalize_name (cached, word by word) agrees with normalising the whole name at once."""
    whole = normalize_tone_placement(" ".join(name.split())).casefold()
    assert normalize_name(name) == whole
    assert normalize_name(name) == normalize_name(name)  # the second call comes from the cache
