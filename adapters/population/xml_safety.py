"""Parsing XML that a peer sent us: no DTD, no entities, no network, bounded size.

A SOAP message has no business carrying a document type declaration, so any
``<!DOCTYPE`` or ``<!ENTITY`` is refused *before* the parser sees it: a
billion-laughs bomb is never expanded, an external entity is never fetched.
The lxml parser is hardened as well, as a second line.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class HostileXml(ValueError):
    """The XML carries a DTD/entity declaration, exceeds the size limit, or does not parse."""


def hardened_parser() -> etree.XMLParser:
    """A fresh lxml parser that resolves nothing and refuses huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted_xml(body: bytes, *, max_bytes: int) -> etree._Element:
    """Parse ``body`` as an untrusted XML document and return its root element.

    Raises :class:`HostileXml` (with a message that never quotes the body).
    """
    if len(body) > max_bytes:
        raise HostileXml(f"document of {len(body)} bytes exceeds the {max_bytes}-byte limit")
    if b"\x00" in body:  # UTF-16/32 would hide a declaration from the scan below
        raise HostileXml("document is not in an 8-bit encoding")
    if _DECLARATION.search(body):
        raise HostileXml("document carries a DTD or entity declaration")
    try:
        root = etree.fromstring(body, parser=hardened_parser())
    except etree.XMLSyntaxError:
        raise HostileXml("document is not well-formed XML") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # belt and braces
        raise HostileXml("document carries a DTD or entity declaration")
    return root
