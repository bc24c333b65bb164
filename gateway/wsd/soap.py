"""SOAP 1.2 envelopes with WS-Addressing 2004/08 headers: parse, build, fault.

Parsing happens here, once, with the hardened parser (``gateway.untrusted_xml``) that refuses DTDs,
entities and network access, so that every other module sees a checked ``Envelope``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from gateway import untrusted_xml
from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname

MAX_BODY_BYTES = 256 * 1024
"""The largest SOAP request accepted. Scan tickets and subscriptions are a few KiB."""
MAX_ECHO = 300
"""Characters of a fault's reason or detail: client text quoted in a fault (an Action, a value) is cut here."""
MAX_MESSAGE_ID = 1024
"""Characters in a wsa:MessageID, which every answer echoes as wsa:RelatesTo."""


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, marked where it was cut: what we echo or log of a client's text."""
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


class SoapFault(Exception):
    """A fault to answer instead of a response.

    ``code`` is ``Sender`` or ``Receiver``; ``subcode`` a Clark QName.
    """

    def __init__(self, code: str, subcode: str, reason: str, detail: str | None = None, http_status: int | None = None):
        reason = clip(reason)
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.detail = clip(detail) if detail else detail
        self.http_status = http_status or (400 if code == "Sender" else 500)

    def __repr__(self) -> str:
        return f"SoapFault({self.code}, {self.subcode}, {self.reason!r})"


def sender_fault(namespace: str, name: str, reason: str, detail: str | None = None) -> SoapFault:
    return SoapFault("Sender", qname(namespace, name), reason, detail)


def receiver_fault(namespace: str, name: str, reason: str, detail: str | None = None) -> SoapFault:
    return SoapFault("Receiver", qname(namespace, name), reason, detail)


def invalid_args(reason: str) -> SoapFault:
    return sender_fault(ns.WSCN, "InvalidArgs", reason)


@dataclass
class Envelope:
    """A parsed request: its addressing headers and the first body element."""

    action: str
    message_id: str | None
    to: str | None
    body: etree._Element | None
    header: etree._Element | None
    root: etree._Element = field(repr=False)

    def header_element(self, namespace: str, local: str) -> etree._Element | None:
        if self.header is None:
            return None
        return self.header.find(qname(namespace, local))


class MalformedMessage(SoapFault):
    """The bytes are not a SOAP 1.2 envelope we can read."""

    def __init__(self, reason: str):
        super().__init__("Sender", qname(ns.WSCN, "InvalidArgs"), reason)


def _text(parent: etree._Element | None, namespace: str, local: str) -> str | None:
    if parent is None:
        return None
    el = parent.find(qname(namespace, local))
    if el is None or el.text is None:
        return None
    return el.text.strip()


def parse_envelope(data: bytes) -> Envelope:
    """Parse and check a SOAP 1.2 envelope; raise ``MalformedMessage`` if it is not one."""
    try:
        root = untrusted_xml.parse(data, MAX_BODY_BYTES)
    except untrusted_xml.Refused as e:
        raise MalformedMessage(str(e)) from None
    if root.tag != qname(ns.SOAP, "Envelope"):
        raise MalformedMessage("root element is not a SOAP 1.2 Envelope")
    header = root.find(qname(ns.SOAP, "Header"))
    body = root.find(qname(ns.SOAP, "Body"))
    if body is None:
        raise MalformedMessage("the envelope has no Body")
    action = _text(header, ns.WSA, "Action")
    if not action:
        raise SoapFault("Sender", qname(ns.WSA, "MessageInformationHeaderRequired"),
                        "the wsa:Action header is missing")
    first = next((c for c in body if isinstance(c.tag, str)), None)
    message_id = _text(header, ns.WSA, "MessageID")
    if message_id is not None and len(message_id) > MAX_MESSAGE_ID:
        raise SoapFault("Sender", qname(ns.WSA, "InvalidMessageInformationHeader"),
                        f"the wsa:MessageID is longer than {MAX_MESSAGE_ID} characters")
    return Envelope(
        action=action,
        message_id=message_id,
        to=_text(header, ns.WSA, "To"),
        body=first,
        header=header,
        root=root,
    )


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def build_envelope(
    action: str,
    body: etree._Element | list[etree._Element] | None,
    *,
    to: str = ns.ANONYMOUS,
    relates_to: str | None = None,
    message_id: str | None = None,
    extra_headers: list[etree._Element] = (),
    nsmap: dict[str, str] | None = None,
) -> etree._Element:
    """An envelope element with the addressing headers every reply and event carries."""
    env = etree.Element(qname(ns.SOAP, "Envelope"), nsmap=nsmap or ns.NSMAP)
    header = etree.SubElement(env, qname(ns.SOAP, "Header"))
    etree.SubElement(header, qname(ns.WSA, "To")).text = to
    etree.SubElement(header, qname(ns.WSA, "Action")).text = action
    etree.SubElement(header, qname(ns.WSA, "MessageID")).text = message_id or new_message_id()
    if relates_to:
        etree.SubElement(header, qname(ns.WSA, "RelatesTo")).text = relates_to
    for h in extra_headers:
        header.append(h)
    body_el = etree.SubElement(env, qname(ns.SOAP, "Body"))
    if body is not None:
        for child in body if isinstance(body, list) else [body]:
            body_el.append(child)
    return env


def serialize(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def build_fault(fault: SoapFault, relates_to: str | None = None) -> etree._Element:
    """A SOAP 1.2 Fault with the WS-Addressing fault action."""
    env = build_envelope(ns.FAULT_ACTION, None, relates_to=relates_to)
    f = etree.SubElement(env.find(qname(ns.SOAP, "Body")), qname(ns.SOAP, "Fault"))
    code = etree.SubElement(f, qname(ns.SOAP, "Code"))
    value = etree.SubElement(code, qname(ns.SOAP, "Value"))
    value.text = etree.QName(ns.SOAP, fault.code)
    sub = etree.SubElement(code, qname(ns.SOAP, "Subcode"))
    subvalue = etree.SubElement(sub, qname(ns.SOAP, "Value"))
    subvalue.text = etree.QName(fault.subcode)
    reason = etree.SubElement(f, qname(ns.SOAP, "Reason"))
    text = etree.SubElement(reason, qname(ns.SOAP, "Text"))
    text.set(qname(ns.XML, "lang"), "en")
    text.text = fault.reason
    if fault.detail:
        etree.SubElement(f, qname(ns.SOAP, "Detail")).text = fault.detail
    return env
