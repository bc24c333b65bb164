"""Reading and writing eSCL documents with lxml: one hardened parser, one element helper.

The parser (``gateway.untrusted_xml``, shared with WSD) refuses DTDs and entities and never
touches the network; a document must be small and of few elements before anything reads it.
Elements are looked up by namespace, not by prefix, and in either eSCL
namespace: devices and clients disagree on the namespace of a few elements
(Manufacturer, the image positions), and a client's slip there is no reason
to refuse a scan.
"""

from __future__ import annotations

import enum

from lxml import etree

from gateway import untrusted_xml
from gateway.escl import namespaces as ns
from gateway.escl.errors import MalformedRequest

MAX_DOCUMENT_BYTES = 64 * 1024
"""The largest request body read. A ScanSettings is under 2 KiB."""
MAX_ELEMENTS = 512
MAX_TEXT = 255
"""Characters in any one element's text."""
MAX_INTEGER = 10**6
"""No eSCL number (a length in 1/300 inch, a resolution, a level) comes near this."""
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

def parse(data: bytes, root: str) -> etree._Element:
    """The document ``data`` whose root element is ``root`` (Clark notation), else ``MalformedRequest``."""
    if not data.strip():
        raise MalformedRequest("the request has no body")
    try:
        doc = untrusted_xml.parse(data, MAX_DOCUMENT_BYTES, MAX_ELEMENTS)
    except untrusted_xml.Refused as e:
        raise MalformedRequest(str(e)) from None
    if doc.tag != root:
        raise MalformedRequest(f"the root element is {name_of(doc.tag)}, not {name_of(root)}")
    return doc


def name_of(tag: str) -> str:
    """A Clark name as a person reads it: scan:Foo, pwg:Foo, or {uri}Foo."""
    for prefix, uri in ns.NSMAP.items():
        if tag.startswith(f"{{{uri}}}"):
            return f"{prefix}:{tag[len(uri) + 2:]}"
    return tag


def find(parent: etree._Element, local: str) -> etree._Element | None:
    """The first child named ``local`` in either eSCL namespace."""
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == local \
                and etree.QName(child).namespace in (ns.SCAN, ns.PWG):
            return child
    return None


def find_all(parent: etree._Element, local: str) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == local
            and etree.QName(c).namespace in (ns.SCAN, ns.PWG)]


def text(el: etree._Element) -> str:
    """An element's text, stripped; ``MalformedRequest`` if it has child elements or is too long."""
    if len(el):
        raise MalformedRequest(f"{name_of(el.tag)} must hold text, not elements")
    value = (el.text or "").strip()
    if len(value) > MAX_TEXT:
        raise MalformedRequest(f"{name_of(el.tag)} is longer than {MAX_TEXT} characters")
    return value


def integer(el: etree._Element) -> int:
    value = text(el)
    if not value.isascii() or not value.lstrip("+-").isdigit():
        raise MalformedRequest(f"{name_of(el.tag)} must be an integer, not {value!r}")
    number = int(value)
    if abs(number) > MAX_INTEGER:
        raise MalformedRequest(f"{name_of(el.tag)} {number} is out of range")
    return number


def boolean(el: etree._Element) -> bool:
    value = text(el)
    if value.lower() not in _BOOLEANS:
        raise MalformedRequest(f"{name_of(el.tag)} must be true or false, not {value!r}")
    return _BOOLEANS[value.lower()]


def sub(parent: etree._Element, tag: str, value=None) -> etree._Element:
    """A child element ``tag`` (Clark notation) with ``value`` as its text, if given."""
    el = etree.SubElement(parent, tag)
    if value is not None:
        el.text = value.value if isinstance(value, enum.Enum) else str(value)
    return el


def serialize(doc: etree._Element) -> bytes:
    """The bytes of a document we send: UTF-8 with an XML declaration."""
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
