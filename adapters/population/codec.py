"""The compiled SOAP codec: request templates and a reply reader derived from zeep's schema.

zeep stays the authority on the WSDL: it parses it, and at start-up this module
reads zeep's parsed types (element names, namespaces, order, ``minOccurs`` and
``maxOccurs``) into

* a **request template** per operation: the envelope's bytes with one slot per
  element of the request, filled with XML-escaped values in the WSDL's order;
* a **reply reader** that walks the lxml tree of ``CongdanCollection`` with the
  schema's element names and order, the way zeep's strict parse does (an element
  matches by namespace and local name, or by local name when it is unqualified;
  a required element missing before another one, an unknown, repeated or
  reordered element refuse the reply with zeep's message).

Anything outside the shape compiled here is handed to zeep unchanged, so the two
paths agree by construction there: a request value that is not a plain XML-safe
string, a field the template does not know, a missing required field; a reply
element that carries attributes (``xsi:type``, ``xsi:nil``, …). WS-Security is
applied to the built envelope exactly as zeep applies it (after the body is
rendered). ``[upstreams.population.adapter] codec = "zeep"`` keeps the old path.

tests/adapters/population/test_codec_equivalence.py proves the two equal
(hypothesis: same bytes out, same record or same refusal in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import structlog
from lxml import etree
from zeep.xsd import Choice, Sequence, String
from zeep.xsd.elements import Element
from zeep.xsd.types.complex import ComplexType

from adapters.population.wire import (
    LOOKUP,
    SOAP_ENV_NS,
    CitizenServiceWire,
    ReplyShapeError,
)
from adapters.population.wsse import EnvelopeSecurity

_log = structlog.get_logger("adapters.population")

#: Characters the template writes as they are (after escaping ``& < > \r`` as lxml does).
#: Anything else (controls, DEL and C1, surrogates, U+FFFE/U+FFFF) goes to zeep, which
#: renders or refuses it exactly as before.
_PLAIN_TEXT = re.compile("[\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


class UnsupportedSchema(Exception):
    """The WSDL's shape is outside what this codec compiles (zeep is used instead)."""


class _Delegate(Exception):
    """This input is outside the compiled shape: let zeep handle it."""


def _escape(value: str) -> str:
    """XML character data exactly as lxml serializes a text node (UTF-8 output)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _text_value(value: object) -> str:
    if type(value) is not str or not _PLAIN_TEXT.fullmatch(value):
        raise _Delegate
    return _escape(value)


def _sequence_of(xsd_type: Any) -> list[tuple[str, Element]]:
    """The elements of a complex type that is one plain sequence, or UnsupportedSchema."""
    if not isinstance(xsd_type, ComplexType) or xsd_type.attributes:
        raise UnsupportedSchema("not a complex type without attributes")
    nested = xsd_type.elements_nested
    if len(nested) != 1 or type(nested[0][1]) is not Sequence:
        raise UnsupportedSchema("not one sequence")
    sequence = nested[0][1]
    if sequence.max_occurs != 1 or sequence.min_occurs != 1:
        raise UnsupportedSchema("a repeated or optional sequence")
    members = list(sequence.elements)
    for _, member in members:
        if type(member) is not Element:
            raise UnsupportedSchema("a nested indicator or any element")
    return members


def _is_string(element: Element) -> bool:
    return type(element.type) is String


# --- requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """One child of the request element: a string, or a choice of strings."""

    name: str
    open_tag: str
    close_tag: str
    required: bool
    #: For a choice: option name -> (open tag, close tag); None for a plain string.
    options: Mapping[str, tuple[str, str]] | None = None


@dataclass(frozen=True)
class RequestTemplate:
    """The envelope of one operation as bytes with slots, in the WSDL's element order."""

    prefix: str
    suffix: str
    slots: tuple[_Slot, ...]
    names: frozenset[str]

    @classmethod
    def compile(cls, body_element: Element) -> Self:
        qname = body_element.qname
        namespace = qname.namespace
        prefix = (
            "<?xml version='1.0' encoding='utf-8'?>\n"
            f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV_NS}"><soap-env:Body>'
            f'<ns0:{qname.localname} xmlns:ns0="{namespace}">'
        )
        suffix = f"</ns0:{qname.localname}></soap-env:Body></soap-env:Envelope>"
        slots: list[_Slot] = []
        for name, element in _sequence_of(body_element.type):
            if element.qname.namespace != namespace or element.max_occurs != 1:
                raise UnsupportedSchema("an element of another namespace, or repeated")
            tag = element.qname.localname
            open_tag, close_tag = f"<ns0:{tag}>", f"</ns0:{tag}>"
            required = element.min_occurs >= 1
            if _is_string(element):
                slots.append(_Slot(name, open_tag, close_tag, required))
                continue
            options = _choice_of(element, namespace)
            slots.append(_Slot(name, open_tag, close_tag, required, options))
        return cls(prefix, suffix, tuple(slots), frozenset(s.name for s in slots))

    def render(self, fields: Mapping[str, object]) -> bytes:
        """The envelope for ``fields``; :class:`_Delegate` for anything outside the shape."""
        if not self.names.issuperset(fields):
            raise _Delegate
        parts = [self.prefix]
        for slot in self.slots:
            value = fields.get(slot.name)
            if value is None:
                if slot.required:
                    raise _Delegate
                continue
            parts.append(slot.open_tag)
            if slot.options is None:
                parts.append(_text_value(value))
            else:
                if type(value) is not dict or len(value) != 1:
                    raise _Delegate
                ((option, inner),) = value.items()
                tags = slot.options.get(option)
                if tags is None or not inner:  # zeep drops an empty choice: its way
                    raise _Delegate
                parts += (tags[0], _text_value(inner), tags[1])
            parts.append(slot.close_tag)
        parts.append(self.suffix)
        return "".join(parts).encode("utf-8")


def _choice_of(element: Element, namespace: str) -> dict[str, tuple[str, str]]:
    """A complex element that is one required choice of single strings: option -> tags."""
    xsd_type = element.type
    if not isinstance(xsd_type, ComplexType) or xsd_type.attributes:
        raise UnsupportedSchema(f"{element.name} is neither a string nor a choice")
    nested = xsd_type.elements_nested
    if len(nested) != 1 or type(nested[0][1]) is not Choice:
        raise UnsupportedSchema(f"{element.name} is neither a string nor a choice")
    choice = nested[0][1]
    if choice.max_occurs != 1 or choice.min_occurs != 1:
        raise UnsupportedSchema(f"{element.name}: a repeated or optional choice")
    options: dict[str, tuple[str, str]] = {}
    for option in choice:
        if (
            type(option) is not Element
            or not _is_string(option)
            or option.qname.namespace != namespace
            or option.max_occurs != 1
        ):
            raise UnsupportedSchema(f"{element.name}: a choice of other than single strings")
        tag = option.qname.localname
        options[str(option.name)] = (f"<ns0:{tag}>", f"</ns0:{tag}>")
    return options


# --- replies ----------------------------------------------------------------------------


class Values(dict[str, Any]):
    """A parsed complex element: fields by name, None for those absent (as zeep's objects)."""

    __getattr__ = dict.get


@dataclass(frozen=True)
class _Child:
    name: str
    qualified: str  # "{namespace}local"
    local: str
    required: bool
    multiple: bool
    #: The child's own children when it is complex; None for a string.
    complex: tuple[_Child, ...] | None


def _compile_children(xsd_type: Any) -> tuple[_Child, ...]:
    children: list[_Child] = []
    for name, element in _sequence_of(xsd_type):
        if element.max_occurs != "unbounded" and element.max_occurs != 1:
            raise UnsupportedSchema("a maxOccurs other than 1 or unbounded")
        qname = element.qname
        if not qname.namespace:
            raise UnsupportedSchema("an unqualified element")
        nested = None if _is_string(element) else _compile_children(element.type)
        children.append(
            _Child(
                name,
                qname.text,
                qname.localname,
                element.min_occurs >= 1,
                element.max_occurs == "unbounded",
                nested,
            )
        )
    return tuple(children)


def _read_complex(
    node: etree._Element, spec: tuple[_Child, ...], allow_none: bool
) -> Values | None:
    """``node`` read as zeep's strict ComplexType.parse_xmlelement reads it."""
    if node.attrib:
        raise _Delegate
    elements = list(node)
    count = len(elements)
    if not count:
        if allow_none:
            return None
        return Values()
    values = Values()
    at = 0
    for child in spec:
        found: list[Any] = []
        while at < count:
            element = elements[at]
            tag = element.tag
            if type(tag) is not str:
                raise _Delegate
            if tag != child.qualified and tag != child.local:
                if not found and child.required:
                    raise ReplyShapeError
                break
            if element.attrib:
                raise _Delegate
            at += 1
            if child.complex is None:
                found.append(element.text)
            else:
                found.append(_read_complex(element, child.complex, True))
            if not child.multiple:
                break
        values[child.name] = found if child.multiple else (found[0] if found else None)
        if at == count:
            break
    if at != count:
        raise ReplyShapeError
    return values


class CompiledCitizenWire(CitizenServiceWire):
    """:class:`CitizenServiceWire` with the hot path compiled; zeep for everything else."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        if client.plugins:
            raise UnsupportedSchema("zeep plugins are configured")
        wsse = client.wsse
        self._wsse: list[Any] = [] if wsse is None else wsse if isinstance(wsse, list) else [wsse]
        self._templates: dict[str, RequestTemplate | None] = {}
        self._reply_children = _compile_children(self._reply_element.type)
        if self.template(LOOKUP) is None:  # the hot operation must compile, at start-up
            raise UnsupportedSchema(f"the {LOOKUP} request")

    def template(self, operation: str) -> RequestTemplate | None:
        """The compiled request of ``operation`` (compiled on first use), None if zeep's."""
        if operation in self._templates:
            return self._templates[operation]
        operation_obj = self._binding.get(operation)
        template: RequestTemplate | None
        try:
            if operation_obj.abstract.wsa_action:
                raise UnsupportedSchema("WS-Addressing")
            template = RequestTemplate.compile(operation_obj.input.body)
            probe = {s.name: "0" for s in template.slots if s.required}
            zeep_bytes = etree.tostring(
                operation_obj.create(**probe).content, xml_declaration=True, encoding="utf-8"
            )
            if template.render(probe) != zeep_bytes:
                raise UnsupportedSchema("the template's envelope differs from zeep's")
        except (UnsupportedSchema, _Delegate):
            template = None
        self._templates[operation] = template
        return template

    def build_request(self, fields: Mapping[str, object], operation: str = LOOKUP) -> bytes:
        template = self.template(operation)
        try:
            if template is None:
                raise _Delegate
            envelope = template.render(fields)
        except _Delegate:
            return super().build_request(fields, operation)
        if not self._wsse:
            return envelope
        # WS-Security after the body, as zeep's binding applies it, with the same headers.
        root = etree.fromstring(envelope)
        headers = {"SOAPAction": f'"{self.soap_action(operation)}"'}
        headers["Content-Type"] = "text/xml; charset=utf-8"
        for part in self._wsse:
            root, headers = part.apply(root, headers)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))

    def _parse_collection(self, collection: etree._Element) -> Any:
        try:
            return _read_complex(collection, self._reply_children, False)
        except _Delegate:
            return super()._parse_collection(collection)


def load_wire(codec: str, wsdl_path: Path, wsse: EnvelopeSecurity | None) -> CitizenServiceWire:
    """The wire for ``codec`` (``"compiled"`` or ``"zeep"``); blocking, run it off the loop.

    A WSDL whose shape the compiled codec does not cover is read by zeep, with one warning.
    """
    zeep_wire = CitizenServiceWire.load(wsdl_path, wsse)
    if codec == "zeep":
        return zeep_wire
    try:
        return CompiledCitizenWire(zeep_wire.client)
    except UnsupportedSchema as exc:
        _log.warning(
            "population.codec_fallback",
            reason=str(exc),
            hint="the compiled codec does not cover this WSDL; zeep builds and reads every call",
        )
        return zeep_wire


__all__ = ["CompiledCitizenWire", "RequestTemplate", "UnsupportedSchema", "Values", "load_wire"]
