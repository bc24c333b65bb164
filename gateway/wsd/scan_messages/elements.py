"""The scanner's elements (GetScannerElements): which are asked for, and ScannerDescription,
ScannerConfiguration and ScannerStatus; ElementData for any element list."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from lxml import etree

from gateway.model import Capabilities, Condition, ScannerStatus, Size, SourceCapabilities
from gateway.wsd import namespaces as ns
from gateway.wsd.scan_messages.wscn import (
    STRING127, W, bool_text, bounded, element, limited, q, sub, sub_list, time_text,
)
from gateway.wsd.soap import invalid_args


MAX_REQUESTED_NAMES = 64
"""Name elements in one RequestedElements; each distinct name is answered once."""


def parse_requested_names(body: etree._Element) -> list[str]:
    """RequestedElements/Name QNames, resolved by the namespaces in scope, each once, in the order asked.

    A name whose prefix is not declared (or that has none, with no default
    namespace) is taken as a WS-Scan name: the schema types the job element
    names as keywords (``JobStatus``), which clients may send bare, and a
    sloppy client may use ``wscn:`` without declaring it. What is no name at
    all is ``InvalidArgs``, and so are more than MAX_REQUESTED_NAMES names.
    """
    found = list(body.iter(q("Name")))
    if len(found) > MAX_REQUESTED_NAMES:
        raise invalid_args(f"RequestedElements names {len(found)} elements; at most {MAX_REQUESTED_NAMES} "
                           "are answered")
    names = []
    for el in found:
        text = bounded((el.text or "").strip(), "Name")
        prefix, _, local = text.rpartition(":")
        if not local or ":" in prefix or any(c.isspace() for c in text):
            raise invalid_args(f"{text!r} is not an element name")
        uri = el.nsmap.get(prefix or None) or W
        names.append(ns.qname(uri, local))
    return list(dict.fromkeys(names))


def element_data(parent: etree._Element, name: str, content: etree._Element | None) -> None:
    """One ElementData; ``name`` (a Clark QName) goes back as a QName whose prefix is declared.

    Name and Valid are the schema's local attributes: unprefixed, as real devices send them.
    """
    uri, _, local = name[1:].partition("}") if name.startswith("{") else (None, None, name)
    if uri is None or uri == W:
        el = sub(parent, "ElementData")
        text = f"wscn:{local}" if uri == W else local
    else:
        el = etree.SubElement(parent, q("ElementData"), nsmap={"v": uri})
        text = f"v:{local}"
    el.set("Name", text)
    el.set("Valid", bool_text(content is not None))
    if content is not None:
        el.append(content)


def elements_response(operation: str, container: str, names: list[str],
                      makers: dict[str, Callable[[], etree._Element | None]]) -> etree._Element:
    """Get{Scanner,Job}ElementsResponse: one ElementData per name asked for, Valid="false" where unknown
    or where a maker has nothing to show yet (it returns None)."""
    resp = element(f"{operation}Response")
    elements = sub(resp, container)
    for name in names:
        element_data(elements, name, makers[name]() if name in makers else None)
    return resp


def _resolutions(parent: etree._Element, local: str, caps: SourceCapabilities) -> None:
    res = sub(parent, local)
    sub_list(res, "Widths", "Width", caps.resolutions_x)
    sub_list(res, "Heights", "Height", caps.resolutions_y)


def _size(parent: etree._Element, local: str, size: Size) -> None:
    el = sub(parent, local)
    sub(el, "Width", size.width)
    sub(el, "Height", size.height)


def _source(parent: etree._Element, prefix: str, caps: SourceCapabilities) -> None:
    _size(parent, f"{prefix}OpticalResolution", caps.optical_resolution)
    _resolutions(parent, f"{prefix}Resolutions", caps)
    sub_list(parent, f"{prefix}Color", "ColorEntry", [c.value for c in caps.colors])
    _size(parent, f"{prefix}MinimumSize", caps.min_size)
    _size(parent, f"{prefix}MaximumSize", caps.max_size)


def scanner_description(caps: Capabilities) -> etree._Element:
    el = element("ScannerDescription")
    sub(el, "ScannerName", limited(caps.name, STRING127))
    if caps.info:
        sub(el, "ScannerInfo", limited(caps.info, STRING127))
    if caps.location:
        sub(el, "ScannerLocation", limited(caps.location, STRING127))
    return el


def scanner_configuration(caps: Capabilities) -> etree._Element:
    el = element("ScannerConfiguration")
    ds = sub(el, "DeviceSettings")
    sub_list(ds, "FormatsSupported", "FormatValue", caps.formats)
    cq = sub(ds, "CompressionQualityFactorSupported")
    sub(cq, "MinValue", caps.quality_range[0])
    sub(cq, "MaxValue", caps.quality_range[1])
    sub_list(ds, "ContentTypesSupported", "ContentTypeValue", caps.content_types)
    sub(ds, "DocumentSizeAutoDetectSupported", bool_text(caps.auto_detect_size))
    sub(ds, "AutoExposureSupported", bool_text(caps.auto_exposure))
    sub(ds, "BrightnessSupported", bool_text(caps.brightness))
    sub(ds, "ContrastSupported", bool_text(caps.contrast))
    scaling = sub(ds, "ScalingRangeSupported")
    for local in ("ScalingWidth", "ScalingHeight"):
        s = sub(scaling, local)
        sub(s, "MinValue", 100)
        sub(s, "MaxValue", 100)
    sub_list(ds, "RotationsSupported", "RotationValue", caps.rotations)
    if caps.platen:
        _source(sub(el, "Platen"), "Platen", caps.platen)
    if caps.adf_front:
        adf = sub(el, "ADF")
        sub(adf, "ADFSupportsDuplex", bool_text(caps.duplex))
        _source(sub(adf, "ADFFront"), "ADF", caps.adf_front)
        if caps.adf_back:
            _source(sub(adf, "ADFBack"), "ADF", caps.adf_back)
    return el


def device_condition(parent: etree._Element, local: str, c: Condition, cleared: datetime | None = None) -> None:
    el = sub(parent, local, Id=str(c.id))
    sub(el, "Time", time_text(c.time))
    sub(el, "Name", c.name)
    sub(el, "Component", c.component)
    sub(el, "Severity", c.severity)
    if cleared is not None:
        sub(el, "ClearTime", time_text(cleared))


def scanner_status(status: ScannerStatus) -> etree._Element:
    el = element("ScannerStatus")
    sub(el, "ScannerCurrentTime", time_text(status.time))
    sub(el, "ScannerState", status.state)
    sub_list(el, "ScannerStateReasons", "ScannerStateReason", status.reasons)
    active = sub(el, "ActiveConditions")
    for c in status.conditions:
        device_condition(active, "DeviceCondition", c)
    if status.history:
        history = sub(el, "ConditionHistory")
        for c, cleared in status.history:
            device_condition(history, "ConditionHistoryEntry", c, cleared)
    return el
