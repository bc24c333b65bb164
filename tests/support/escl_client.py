"""A plain HTTP client of the gateway's eSCL resources, and ScanSettings documents built with lxml."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from gateway.escl import namespaces as ns

TIMEOUT = 60


def escl_root(gw) -> str:
    return f"http://{gw.host}:{gw.port}/{gw.uuid}/eSCL"


def settings(source: str | None = "Platen", color: str | None = "Grayscale8", dpi: int | None = 75,
             mime: str | None = "image/png", region: tuple[int, int, int, int] | None = (0, 0, 300, 300),
             duplex: bool | None = None, ext: str | None = None) -> bytes:
    """A ScanSettings body; ``region`` is (x, y, width, height) in 1/300 inch."""
    root = etree.Element(ns.scan("ScanSettings"), nsmap=ns.NSMAP)

    def sub(parent, tag, value=None):
        e = etree.SubElement(parent, tag)
        if value is not None:
            e.text = str(value)
        return e
    sub(root, ns.pwg("Version"), "2.0")
    if region is not None:
        r = sub(sub(root, ns.pwg("ScanRegions")), ns.pwg("ScanRegion"))
        sub(r, ns.pwg("ContentRegionUnits"), ns.UNITS)
        for name, value in zip(("XOffset", "YOffset", "Width", "Height"), region):
            sub(r, ns.pwg(name), value)
    if source is not None:
        sub(root, ns.pwg("InputSource"), source)
    if color is not None:
        sub(root, ns.scan("ColorMode"), color)
    if mime is not None:
        sub(root, ns.pwg("DocumentFormat"), mime)
    if ext is not None:
        sub(root, ns.scan("DocumentFormatExt"), ext)
    if dpi is not None:
        sub(root, ns.scan("XResolution"), dpi)
        sub(root, ns.scan("YResolution"), dpi)
    if duplex is not None:
        sub(root, ns.scan("Duplex"), "true" if duplex else "false")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)

    def text(self, path: str) -> str | None:
        found = self.xml().xpath(path, namespaces={"scan": ns.SCAN, "pwg": ns.PWG})
        return found[0].text if found else None


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = TIMEOUT) -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "text/xml"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, parts.path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Answer(r.status, r.headers, r.read())
    finally:
        conn.close()


def get(url: str, **kw) -> Answer:
    return request("GET", url, **kw)


def create(root: str, body: bytes, **kw) -> Answer:
    return request("POST", f"{root}/ScanJobs", body, **kw)


def open_document(job_url: str, timeout: float = TIMEOUT):
    """GET NextDocument whose body the caller reads at its own pace: (connection, response)."""
    parts = urlsplit(job_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    conn.request("GET", parts.path + "/NextDocument")
    return conn, conn.getresponse()
