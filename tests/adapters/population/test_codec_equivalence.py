"""The compiled codec against zeep, property-based: same bytes out, same record or refusal in.

Claims carry Vietnamese names with every vowel and tone (composed and decomposed), Đ
look-alikes, XML specials, control characters, long strings and absent optionals.
Replies are built from the schema and then bent: children dropped, repeated,
reordered, unqualified or in another namespace, unknown elements, text where
children belong and children where text belongs, attributes (``xsi:nil``,
``xsi:type``), entities and DTDs, huge text. Every reply goes through the same
hardened parse as in the client, then through both wires.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.population.codec import CompiledCitizenWire, load_wire
from adapters.population.config import SHIPPED_WSDL
from adapters.population.wire import REPLY_NS, SOAP_ENV_NS, CitizenServiceWire
from adapters.population.wsse import SecurityTimestamp
from adapters.population.xml_safety import HostileXml, parse_untrusted_xml

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_LETTERS = (
    [
        unicodedata.normalize(form, v + tone)
        for v in _VOWELS + _VOWELS.upper()
        for tone in _TONES
        for form in ("NFC", "NFD")
    ]
    + list("đĐÐðƉɖbcdghklmnpqrstvx")
    + ["\u0110\u0303"]
)
_SPECIALS = ["&", "<", ">", '"', "'", "\r", "\n", "\t", " ", "]]>", "&amp;", "\r\n", "\x85"]
_HOSTILE = ["\x00", "\x01", "\x0b", "\x1f", "\x7f", "\ufffe", "\uffff", "\ud800", "\U0001f600"]

vietnamese = st.lists(st.sampled_from(_LETTERS + _SPECIALS), max_size=24).map("".join)
any_text = st.one_of(
    vietnamese,
    st.lists(st.sampled_from(_LETTERS + _SPECIALS + _HOSTILE), max_size=12).map("".join),
    st.text(max_size=20),
    st.integers(1_000, 20_000).map(lambda n: "Ư" * n),
)


@functools.cache
def _wires() -> tuple[CitizenServiceWire, CompiledCitizenWire]:
    compiled = load_wire("compiled", SHIPPED_WSDL, None)
    assert isinstance(compiled, CompiledCitizenWire)
    return load_wire("zeep", SHIPPED_WSDL, None), compiled


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("value", call())
    except Exception as exc:  # the refusal itself is what is compared
        return ("refused", (type(exc), str(exc)))


# --- requests ---------------------------------------------------------------------------

_REQUIRED = ("MaYeuCau", "MaDVC", "MaTichHop", "MaCanBo", "MaDonVi", "TaiKhoan", "SoDienThoai")


@st.composite
def claims(draw: st.DrawFn) -> dict[str, object]:
    fields: dict[str, object] = {name: draw(any_text) for name in _REQUIRED}
    fields["SoDinhDanh"] = draw(st.one_of(st.from_regex(r"\A[0-9]{12}\Z"), any_text))
    if draw(st.booleans()):
        fields["HoVaTen"] = draw(st.one_of(vietnamese, any_text, st.none()))
    born = draw(
        st.one_of(
            st.none(),
            st.builds(lambda t: {"NgayThangNam": t}, st.from_regex(r"\A[0-9]{8}\Z")),
            st.builds(lambda t: {"Nam": t}, st.one_of(st.from_regex(r"\A[0-9]{4}\Z"), any_text)),
            st.just({}),
            st.just({"Nam": "1990", "NgayThangNam": "19900101"}),
            st.just({"Thang": "01"}),
        )
    )
    if born is not None or draw(st.booleans()):
        fields["NgayThangNamSinh"] = born
    if draw(st.integers(0, 20)) == 0:  # a required field missing, or an unknown one
        if draw(st.booleans()):
            del fields[draw(st.sampled_from(_REQUIRED))]
        else:
            fields["MaKhac"] = "x"
    if draw(st.integers(0, 20)) == 0:  # not a string
        fields[draw(st.sampled_from(_REQUIRED))] = draw(st.one_of(st.integers(), st.binary()))
    return fields


@pytest.mark.timeout(300)
@PROPERTY
@given(claims())
def test_request_bytes_are_zeeps(fields: dict[str, object]) -> None:
    """The template's envelope is byte for byte zeep's, or both refuse the claim alike."""
    zeep_wire, compiled = _wires()
    assert _outcome(lambda: compiled.build_request(fields)) == _outcome(
        lambda: zeep_wire.build_request(fields)
    )


def test_request_with_ws_security_is_zeeps() -> None:
    """WS-Security goes on after the body, as zeep applies it: same bytes with a fixed clock."""
    stamp = SecurityTimestamp(300, lambda: 1_700_000_000.0)
    zeep_wire = load_wire("zeep", SHIPPED_WSDL, stamp)
    compiled = load_wire("compiled", SHIPPED_WSDL, stamp)
    assert isinstance(compiled, CompiledCitizenWire)
    fields = {name: "Nguyễn Đức & <Ân>" for name in _REQUIRED} | {"SoDinhDanh": "092090001234"}
    built = compiled.build_request(fields)
    assert b"wsu:Timestamp" in built or b"Timestamp" in built
    assert built == zeep_wire.build_request(fields)


# --- replies ----------------------------------------------------------------------------

_ADDRESS = ("MaTinhThanh", "MaPhuongXa", "ChiTiet")
_SCHEMA: dict[str, tuple[str, ...] | None] = {
    "SoDinhDanh": None,
    "SoCMND": None,
    "GioiTinh": None,
    "DanToc": None,
    "NgayThangNamSinh": ("Nam", "NgayThangNam"),
    "HoVaTen": ("Ho", "ChuDem", "Ten"),
    "NoiOHienTai": _ADDRESS,
    "QueQuan": _ADDRESS,
    "ThuongTru": _ADDRESS,
}
_OTHER_NS = ("http://dancuquocgia.bca", SOAP_ENV_NS, "urn:other")
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


reply_text = st.one_of(
    st.from_regex(r"\A[0-9]{12}\Z"),
    st.sampled_from(["1", "2", "nam", "Nữ", "Kinh", "19900101", "1990", "19901301", "199a"]),
    vietnamese.map(_escape),
    st.text(max_size=8).map(_escape),
    st.integers(1_000, 50_000).map(lambda n: "Ư" * n),
    st.sampled_from(["&#x110;", "&#0;", "&undefined;", "<![CDATA[<x>&]]>", "&lt;", "&#13;"]),
)


@st.composite
def _element(draw: st.DrawFn, name: str, children: tuple[str, ...] | None, depth: int) -> str:
    """One element of the reply, usually as the schema says, sometimes bent."""
    tag = f"dc:{name}"
    bend = draw(st.integers(0, 30))
    attributes = ""
    if bend == 1:
        tag = name  # unqualified: zeep matches it by local name
    elif bend == 2:
        tag = f"o:{name}"
        attributes = f' xmlns:o="{draw(st.sampled_from(_OTHER_NS))}"'
    elif bend == 3:
        attributes = draw(
            st.sampled_from(
                [
                    f' xmlns:xsi="{_XSI}" xsi:nil="true"',
                    f' xmlns:xsi="{_XSI}" xsi:type="dc:DiaChi"',
                    f' xmlns:xsi="{_XSI}" xsi:type="xs:string"',
                    ' id="x"',
                ]
            )
        )
    if bend == 4 or draw(st.integers(0, 15)) == 0:
        return f"<{tag}{attributes}/>"
    if children is None or depth > 2:
        inner = draw(reply_text)
        if bend == 5:  # children where text belongs
            inner += "<dc:Ho>x</dc:Ho>tail"
        return f"<{tag}{attributes}>{inner}</{tag}>"
    if bend == 6:  # text where children belong
        return f"<{tag}{attributes}>{draw(reply_text)}</{tag}>"
    return f"<{tag}{attributes}>{draw(_sequence(children, depth + 1))}</{tag}>"


@st.composite
def _sequence(draw: st.DrawFn, names: tuple[str, ...], depth: int) -> str:
    kept = [n for n in names if draw(st.integers(0, 3))]
    bend = draw(st.integers(0, 12))
    if bend == 1 and len(kept) > 1:
        kept = draw(st.permutations(kept))
    elif bend == 2 and kept:
        kept.insert(draw(st.integers(0, len(kept))), draw(st.sampled_from(kept)))
    elif bend == 3:
        kept.insert(draw(st.integers(0, len(kept))), draw(st.sampled_from(["MaKhac", "Ten"])))
    parts = []
    for name in kept:
        children = _SCHEMA.get(name) if depth == 1 else None
        parts.append(draw(_element(name, children, depth)))
        if draw(st.integers(0, 10)) == 0:
            parts.append(
                draw(st.sampled_from([" ", "\n  ", "stray text", "<!-- c -->", "<?pi x?>"]))
            )
    return "".join(parts)


@st.composite
def replies(draw: st.DrawFn) -> bytes:
    people = draw(st.lists(_sequence(tuple(_SCHEMA), 1), max_size=3))
    kind = draw(st.integers(0, 12))
    collection = "".join(f"<dc:CongDan>{p}</dc:CongDan>" for p in people)
    if kind == 1:
        collection += "<dc:Other/>"
    elif kind == 2:
        collection = f"<dc:CongDan/>{collection}"
    root_attributes = f' xmlns:xsi="{_XSI}" xsi:nil="true"' if kind == 3 else ""
    root = "dc:CongdanCollection"
    namespace = REPLY_NS if kind != 4 else "http://dancuquocgia.bca"
    body = f'<{root} xmlns:dc="{namespace}"{root_attributes}>{collection}</{root}>'
    prolog = ""
    if kind == 5:
        prolog = '<!DOCTYPE x [<!ENTITY e "boom">]>'
    document = (
        f'<?xml version="1.0" encoding="utf-8"?>{prolog}'
        f'<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body>{body}</s:Body></s:Envelope>'
    )
    return document.encode("utf-8", "surrogatepass")


def _read(wire: CitizenServiceWire, reply: bytes) -> Any:
    try:
        root = parse_untrusted_xml(reply, max_bytes=2 * 1024 * 1024)
    except HostileXml as exc:
        return ("hostile", str(exc))
    return _outcome(lambda: wire.read_lookup_reply(root))


@pytest.mark.slow
@pytest.mark.timeout(600)
@PROPERTY
@given(replies())
def test_reply_reads_as_zeep_reads_it(reply: bytes) -> None:
    """Same record, or the same refusal, for every generated reply."""
    zeep_wire, compiled = _wires()
    assert _read(compiled, reply) == _read(zeep_wire, reply)


@pytest.mark.parametrize(
    "inner",
    [
        "<dc:CongDan><dc:SoDinhDanh>092090001234</dc:SoDinhDanh>"
        "<dc:HoVaTen><dc:Ho>Lê</dc:Ho><dc:Ten>An</dc:Ten></dc:HoVaTen></dc:CongDan>",
        "<dc:CongDan><dc:HoVaTen/><dc:SoDinhDanh>092090001234</dc:SoDinhDanh></dc:CongDan>",
        "<dc:CongDan><dc:SoDinhDanh>1</dc:SoDinhDanh><dc:MaKhac/></dc:CongDan>",
        "<dc:CongDan><dc:SoDinhDanh>1</dc:SoDinhDanh><dc:SoDinhDanh>2</dc:SoDinhDanh></dc:CongDan>",
        "<dc:CongDan><SoDinhDanh>092090001234</SoDinhDanh></dc:CongDan>",
        '<dc:CongDan><o:SoDinhDanh xmlns:o="urn:o">1</o:SoDinhDanh></dc:CongDan>',
        "<dc:CongDan/><dc:CongDan><dc:SoDinhDanh>1</dc:SoDinhDanh><dc:X/></dc:CongDan>",
    ],
)
def test_known_shapes_read_alike(inner: str) -> None:
    """The shapes the generator aims at, pinned: read in order, refused out of it."""
    zeep_wire, compiled = _wires()
    reply = (
        f'<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body>'
        f'<dc:CongdanCollection xmlns:dc="{REPLY_NS}">{inner}</dc:CongdanCollection>'
        "</s:Body></s:Envelope>"
    ).encode()
    assert _read(compiled, reply) == _read(zeep_wire, reply)


def test_the_compiled_reader_does_the_reading() -> None:
    """A reply in the schema's shape is read without zeep (the fast path is really taken)."""
    zeep_wire, compiled = _wires()
    reply = (
        f'<s:Envelope xmlns:s="{SOAP_ENV_NS}"><s:Body>'
        f'<dc:CongdanCollection xmlns:dc="{REPLY_NS}"><dc:CongDan>'
        "<dc:SoDinhDanh>092090001234</dc:SoDinhDanh></dc:CongDan></dc:CongdanCollection>"
        "</s:Body></s:Envelope>"
    ).encode()
    root = parse_untrusted_xml(reply, max_bytes=10_000)
    parsed = compiled._parse_collection(root[0][0])
    assert type(parsed).__module__ == "adapters.population.codec"
    assert compiled.read_lookup_reply(root) == zeep_wire.read_lookup_reply(root)
