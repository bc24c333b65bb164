"""A plain HTTP SOAP client for the operations sane-airscan never sends, and for bad input."""

from __future__ import annotations

import email.parser
import email.policy
import http.client
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from gateway.wsd import namespaces as ns

W = ns.WSCN


def q(local: str, namespace: str = W) -> str:
    return ns.qname(namespace, local)


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def xml(self) -> etree._Element:
        return etree.fromstring(self.soap_part)

    @property
    def soap_part(self) -> bytes:
        return self.parts()[0][1] if self.is_multipart else self.body

    @property
    def is_multipart(self) -> bool:
        return self.headers.get("content-type", "").startswith("multipart/related")

    def parts(self) -> list[tuple[str, bytes]]:
        """(content type, bytes) of each MIME part, in order."""
        raw = b"Content-Type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + self.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        return [(p.get_content_type(), p.get_payload(decode=True)) for p in message.iter_parts()]

    @property
    def image(self) -> bytes:
        return self.parts()[1][1]

    def find(self, path: str) -> etree._Element | None:
        return self.xml.find(path, {"s": ns.SOAP, "wscn": W, "wsa": ns.WSA, "wsx": ns.WSX, "wsdp": ns.WSDP,
                                    "pnpx": ns.PNPX, "xop": ns.XOP, "wse": ns.WSE})

    def text(self, path: str) -> str | None:
        el = self.find(path)
        return el.text if el is not None else None

    @property
    def fault_subcode(self) -> str | None:
        return self.text(".//s:Fault/s:Code/s:Subcode/s:Value")


def envelope(action: str, body: etree._Element | None, to: str = "urn:x") -> bytes:
    env = etree.Element(q("Envelope", ns.SOAP), nsmap={"soap": ns.SOAP, "wsa": ns.WSA, "wscn": W})
    header = etree.SubElement(env, q("Header", ns.SOAP))
    etree.SubElement(header, q("To", ns.WSA)).text = to
    etree.SubElement(header, q("Action", ns.WSA)).text = action
    etree.SubElement(header, q("MessageID", ns.WSA)).text = f"urn:uuid:{uuid.uuid4()}"
    b = etree.SubElement(env, q("Body", ns.SOAP))
    if body is not None:
        b.append(body)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def post(url: str, data: bytes, content_type: str = "application/soap+xml; charset=utf-8",
         timeout: float = 60, source: str | None = None) -> Reply:
    """``source``: the client address to send from (another loopback address is another client)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request("POST", parts.path or "/", body=data, headers={"Content-Type": content_type})
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def call(url: str, operation: str, body: etree._Element | None, to: str | None = None,
         source: str | None = None) -> Reply:
    return post(url, envelope(ns.scan_action(operation), body, to or url), source=source)


def el(local: str, *children, text=None, **attrs) -> etree._Element:
    """Build a wscn element: el("JobId", text=5), el("Resolution", el("Width", text=300))."""
    e = etree.Element(q(local), nsmap={"wscn": W})
    if text is not None:
        e.text = str(text)
    for k, v in attrs.items():
        e.set(q(k), str(v))
    for c in children:
        if c is not None:
            e.append(c)
    return e


def ticket(fmt="png", source="Platen", color="RGB24", dpi=100, region=None, images=None, quality=None,
           must_honor=(), **extra) -> etree._Element:
    """A ScanTicket; ``region`` is (x, y, w, h) in thousandths of an inch; ``must_honor`` names elements."""
    def mh(e):
        if etree.QName(e).localname in must_honor:
            e.set(q("MustHonor"), "true")
        return e
    params = el("DocumentParameters",
                mh(el("Format", text=fmt)) if fmt else None,
                mh(el("CompressionQualityFactor", text=quality)) if quality is not None else None,
                mh(el("ImagesToTransfer", text=images)) if images is not None else None,
                mh(el("InputSource", text=source)) if source else None,
                el("MediaSides", el("MediaFront",
                   el("ScanRegion", *[mh(el(n, text=v)) for n, v in zip(
                       ("ScanRegionXOffset", "ScanRegionYOffset", "ScanRegionWidth", "ScanRegionHeight"),
                       region)]) if region else None,
                   mh(el("ColorProcessing", text=color)) if color else None,
                   mh(el("Resolution", el("Width", text=dpi), el("Height", text=dpi))) if dpi else None)))
    for name, value in extra.items():
        params.append(mh(el(name, text=value)))
    return el("ScanTicket", el("JobDescription", el("JobName", text="test"),
                               el("JobOriginatingUserName", text="pytest")), params)


def create_job(url: str, t: etree._Element, source: str | None = None) -> Reply:
    return call(url, "CreateScanJob", el("CreateScanJobRequest", t), source=source)


def retrieve(url: str, job_id, token, name="scan001") -> Reply:
    return call(url, "RetrieveImage", el("RetrieveImageRequest", el("JobId", text=job_id),
                                         el("JobToken", text=token),
                                         el("DocumentDescription", el("DocumentName", text=name))))


def job_of(reply: Reply) -> tuple[int, str]:
    return int(reply.text(".//wscn:JobId")), reply.text(".//wscn:JobToken")


def open_retrieve(url: str, job_id, token, timeout: float = 120):
    """A RetrieveImage whose response the caller reads at its own pace: (connection, response)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    body = el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text=token))
    conn.request("POST", parts.path, body=envelope(ns.scan_action("RetrieveImage"), body, url),
                 headers={"Content-Type": "application/soap+xml"})
    return conn, conn.getresponse()
