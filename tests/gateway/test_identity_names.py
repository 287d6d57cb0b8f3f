"""Vietnamese name normalisation, accent folding and the name verdict."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.citizens import Verdict, compare_names, fold_for_request, fold_name, normalize_name
from gateway.citizens.names import normalize_tone_placement


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


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("Ðặng Văn Ðức", "Đặng Văn Đức"),  # U+00D0: Latin-1 keyboards, Windows-1258 0xD0 as Latin-1
        ("ðỗ thị hà", "Đỗ Thị Hà"),  # U+00F0: Windows-1258 0xF0 read as Latin-1
        ("ƉOÀN", "Đoàn"),  # U+0189 African D, and its lower case U+0256
        ("ɖinh", "Đinh"),
        ("Ðòan", "Đoàn"),  # the look-alike first, so the syllable's tone placement works too
        ("Ðoàn Ðức Ðạt", "Đoàn Đức Đạt"),
    ],
)
def test_d_stroke_look_alikes_are_d_stroke(typed: str, registered: str) -> None:
    """Ð ð Ɖ ɖ are folded to Đ/đ before comparing: an exact match, not a weaker one."""
    assert normalize_name(typed) == normalize_name(registered)
    assert compare_names(typed, registered) is Verdict.MATCH
    assert normalize_tone_placement(typed).casefold() == normalize_name(typed)


def test_d_stroke_look_alikes_fold_to_d() -> None:
    """Accent folding and the folded HoVaTen turn the look-alikes into D like Đ itself."""
    assert fold_name("Ðặng ðức") == "DANG DUC"
    assert fold_for_request("ƉẶNG Văn ɖức") == "DANGVANDUC"


@pytest.mark.parametrize(
    ("decomposed", "composed"),
    [
        ("Nguye\u0302\u0303n", "Nguyễn"),  # Windows-1258: base + combining marks
        ("Pha\u0323m Ngo\u0323c Ho\u0300a", "Phạm Ngọc Hoà"),
        ("Tru\u031bo\u031b\u0300ng", "Trường"),  # Ư/Ơ as U/O + combining horn
        ("Thu\u0309y", "Thủy"),
        ("Ho\u0340a", "Hoà"),  # U+0340, the deprecated grave tone mark
        ("Thu\u0341y", "Thúy"),  # U+0341, the deprecated acute tone mark
    ],
)
def test_windows_1258_decomposed_marks_need_no_folding(decomposed: str, composed: str) -> None:
    """Decomposed tone marks and horns compose by NFC alone: an exact match."""
    assert compare_names(decomposed, composed) is Verdict.MATCH


@pytest.mark.parametrize(
    ("typed", "registered", "verdict"),
    [
        ("Võ", "Vơ", Verdict.MATCH_WITHOUT_DIACRITICS),  # õ is a Vietnamese letter, not Ơ
        ("Hãn", "Hăn", Verdict.MATCH_WITHOUT_DIACRITICS),  # ã is a Vietnamese letter, not Ă
        ("Ý", "Ư", Verdict.MISMATCH),  # Windows-1258 0xDD is Ư, but Ý is a letter too
        ("Thu´y", "Thúy", Verdict.MISMATCH),  # a spacing accent is not a tone mark
        ("Kım", "Kim", Verdict.MATCH_WITHOUT_DIACRITICS),  # dotless ı: upper-cased to I at most
        ("KİM", "Kim", Verdict.MATCH_WITHOUT_DIACRITICS),  # dotted İ: its dot is an accent
        ("Nguyễn Văn \u0410n", "Nguyễn Văn An", Verdict.MISMATCH),  # Cyrillic А
        ("\u0422\u0440\u0430n", "Tran", Verdict.MISMATCH),  # Cyrillic Т р а
    ],
)
def test_other_look_alikes_are_not_folded(typed: str, registered: str, verdict: Verdict) -> None:
    """Real Vietnamese letters, spacing accents and other scripts stay what they are."""
    assert compare_names(typed, registered) is verdict
