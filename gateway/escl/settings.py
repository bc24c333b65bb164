"""ScanSettings (the body of POST ScanJobs) -> the model's ScanTicket.

Strict about form, lenient about content: a body that is not a ScanSettings
document, or a non-number where a number belongs, is ``MalformedRequest``
(400); a well-formed request this scanner cannot do is
``UnsupportedSettings`` (409); anything left out takes the core's default
(whole area, 300 dpi, the first source, PNG), since real clients leave out
different things (sane-airscan 0.99.27 sends no Intent, Windows no
pwg:DocumentFormat). Elements we have no use for are ignored.

What eSCL clients must get exactly is asked with MustHonor, so the core
refuses (409) rather than substitutes: the input source (a feeder job must not
silently scan the platen), the format (a client decodes the type it asked
for) and the resolution (clients compute the image size from it). The colour
mode and the region may be brought to the nearest the scanner can do, as the
core does for WSD.
"""

from __future__ import annotations

from lxml import etree

from gateway.escl import formats
from gateway.escl import namespaces as ns
from gateway.escl.errors import UnsupportedSettings
from gateway.escl.units import to_thou
from gateway.escl.xml import boolean, find, find_all, integer, parse, text
from gateway.model import (
    DocumentParameters, InputSource, Requested, RequestedRegion, RequestedSide, ScanTicket, Size,
)

INTENTS = {"Document": "Text", "TextAndGraphic": "Mixed", "Photo": "Photo", "Preview": "Auto",
           "Object": "Photo", "BusinessCard": "Text"}
"""scan:Intent -> the core's content type."""
CONTENT_TYPES = {"Auto": "Auto", "Text": "Text", "Photo": "Photo", "TextAndPhoto": "Mixed",
                 "LineArt": "Text", "Magazine": "Halftone", "Halftone": "Halftone"}
"""pwg:ContentType -> the core's content type; it says more than an Intent and wins over one."""


def parse_scan_settings(data: bytes) -> ScanTicket:
    """The ticket a ScanSettings body asks for; ``MalformedRequest`` or ``UnsupportedSettings`` if none."""
    root = parse(data, ns.scan("ScanSettings"))
    version = find(root, "Version")
    if version is not None:
        text(version)
    front = RequestedSide(region=_region(root), color=_color(root), resolution=_resolution(root))
    return ScanTicket(parameters=DocumentParameters(
        format=_format(root),
        input_source=_input_source(root),
        content_type=_content_type(root),
        brightness=_level(root, "Brightness"),
        contrast=_level(root, "Contrast"),
        compression_quality=_compression(root),
        front=front,
    ))


def _format(root: etree._Element) -> Requested[str] | None:
    """DocumentFormatExt, the newer element, first; then pwg:DocumentFormat. The first that names a format
    we make is used, so an Ext of ``application/octet-stream`` beside a real type does no harm."""
    asked = [text(el) for el in (find(root, "DocumentFormatExt"), find(root, "DocumentFormat")) if el is not None]
    if not asked:
        return None
    for mime in asked:
        fmt = formats.by_mime(mime)
        if fmt is not None:
            return Requested(fmt.core, must_honor=True)
    raise UnsupportedSettings(f"document format {asked[0]!r} is not one of "
                              + ", ".join(f.mime for f in formats.FORMATS))


def _input_source(root: etree._Element) -> Requested[str] | None:
    source_el, duplex_el = find(root, "InputSource"), find(root, "Duplex")
    duplex = boolean(duplex_el) if duplex_el is not None else False
    source = text(source_el) if source_el is not None else None
    if source is None:
        return Requested(InputSource.ADF_DUPLEX.value, must_honor=True) if duplex else None
    if source == "Platen":
        if duplex:
            raise UnsupportedSettings("Duplex scanning needs InputSource Feeder, not Platen")
        return Requested(InputSource.PLATEN.value, must_honor=True)
    if source == "Feeder":
        chosen = InputSource.ADF_DUPLEX if duplex else InputSource.ADF
        return Requested(chosen.value, must_honor=True)
    raise UnsupportedSettings(f"InputSource {source!r} is not Platen or Feeder")


def _content_type(root: etree._Element) -> Requested[str] | None:
    content_el, intent_el = find(root, "ContentType"), find(root, "Intent")
    if content_el is not None and text(content_el) in CONTENT_TYPES:
        return Requested(CONTENT_TYPES[text(content_el)])
    if intent_el is not None and text(intent_el) in INTENTS:
        return Requested(INTENTS[text(intent_el)])
    return None


def _color(root: etree._Element) -> Requested[str] | None:
    el = find(root, "ColorMode")
    return Requested(text(el)) if el is not None else None


def _resolution(root: etree._Element) -> Requested[Size] | None:
    x_el, y_el = find(root, "XResolution"), find(root, "YResolution")
    if x_el is None and y_el is None:
        return None
    x = integer(x_el) if x_el is not None else None
    y = integer(y_el) if y_el is not None else None
    return Requested(Size(x if x is not None else y, y if y is not None else x), must_honor=True)


def _region(root: etree._Element) -> RequestedRegion | None:
    regions_el = find(root, "ScanRegions")
    if regions_el is None:
        return None
    regions = find_all(regions_el, "ScanRegion")
    if not regions:
        return None
    if len(regions) > 1:
        raise UnsupportedSettings(f"{len(regions)} ScanRegions asked; this scanner scans one (MaxScanRegions 1)")
    region = regions[0]
    units = find(region, "ContentRegionUnits")
    if units is not None and text(units) != ns.UNITS:
        raise UnsupportedSettings(f"ContentRegionUnits {text(units)!r}: only {ns.UNITS} is understood")

    def value(local: str) -> int | None:
        el = find(region, local)
        return integer(el) if el is not None else None

    x, y, width, height = value("XOffset"), value("YOffset"), value("Width"), value("Height")
    left, top = to_thou(x or 0), to_thou(y or 0)
    return RequestedRegion(
        x_offset=Requested(left) if x is not None else None,
        y_offset=Requested(top) if y is not None else None,
        width=Requested(to_thou((x or 0) + width) - left) if width is not None else None,
        height=Requested(to_thou((y or 0) + height) - top) if height is not None else None,
    )


def _level(root: etree._Element, local: str) -> Requested[int] | None:
    el = find(root, local)
    return Requested(integer(el)) if el is not None else None


def _compression(root: etree._Element) -> None:
    """CompressionFactor is read (a malformed one is refused) but not used: we advertise no
    CompressionFactorSupport, so its scale is undefined for us, and clients only send it when advertised."""
    el = find(root, "CompressionFactor")
    if el is not None:
        integer(el)
    return None
