"""ScannerCapabilities: what a scanner can do, as eSCL clients read it.

Shaped for the strictest readers we know (sane-airscan, eSCLKt, Mopria):
``PlatenInputCaps`` is the first child of ``Platen`` (sane-airscan looks at no
other); every source carries its own setting profile (nobody reads shared
ones); resolutions are discrete X = Y pairs only (ranges are read differently
by different clients); every format is listed both as ``pwg:DocumentFormat``
and as ``scan:DocumentFormatExt``; SerialNumber and MakeAndModel are always
present. Children follow the order of the eSCL schema as go-mfp models it.
"""

from __future__ import annotations

from lxml import etree

from gateway.announce import AnnouncedScanner
from gateway.escl import formats
from gateway.escl import namespaces as ns
from gateway.escl.xml import sub
from gateway.escl.units import max_to_escl, min_to_escl
from gateway.model import SourceCapabilities

CONTENT_TYPES = {"Auto": "Auto", "Text": "Text", "Photo": "Photo", "Halftone": "Halftone", "Mixed": "TextAndPhoto"}
"""The core's content types -> eSCL's pwg:ContentType keywords."""
PLATEN_INTENTS = ("Document", "TextAndGraphic", "Photo", "Preview")
FEEDER_INTENTS = ("Document", "TextAndGraphic", "Photo")
EXPOSURE_RANGE = (-1000, 1000, 0)
"""Brightness and Contrast as the core takes them: -1000..1000, 0 the scanner's own setting."""


def _input_caps(parent: etree._Element, local: str, source: SourceCapabilities, core_formats: tuple[str, ...],
                content_types: tuple[str, ...], intents: tuple[str, ...]) -> None:
    caps = sub(parent, ns.scan(local))
    max_w, max_h = max_to_escl(source.max_size.width), max_to_escl(source.max_size.height)
    sub(caps, ns.scan("MinWidth"), min_to_escl(source.min_size.width))
    sub(caps, ns.scan("MaxWidth"), max_w)
    sub(caps, ns.scan("MinHeight"), min_to_escl(source.min_size.height))
    sub(caps, ns.scan("MaxHeight"), max_h)
    sub(caps, ns.scan("MaxOpticalXResolution"), source.optical_resolution.width)
    sub(caps, ns.scan("MaxOpticalYResolution"), source.optical_resolution.height)
    sub(caps, ns.scan("MaxScanRegions"), 1)
    sub(caps, ns.scan("MaxPhysicalWidth"), max_w)
    sub(caps, ns.scan("MaxPhysicalHeight"), max_h)
    supported = sub(caps, ns.scan("SupportedIntents"))
    for intent in intents:
        sub(supported, ns.scan("Intent"), intent)
    profile = sub(sub(caps, ns.scan("SettingProfiles")), ns.scan("SettingProfile"))
    modes = sub(profile, ns.scan("ColorModes"))
    for color in source.colors:
        sub(modes, ns.scan("ColorMode"), color.value)
    types = sub(profile, ns.scan("ContentTypes"))
    for content in content_types:
        if content in CONTENT_TYPES:
            sub(types, ns.pwg("ContentType"), CONTENT_TYPES[content])
    documents = sub(profile, ns.scan("DocumentFormats"))
    for fmt in formats.offered(core_formats):
        sub(documents, ns.pwg("DocumentFormat"), fmt.mime)
        sub(documents, ns.scan("DocumentFormatExt"), fmt.mime)
    discrete = sub(sub(profile, ns.scan("SupportedResolutions")), ns.scan("DiscreteResolutions"))
    for dpi in discrete_resolutions(source):
        pair = sub(discrete, ns.scan("DiscreteResolution"))
        sub(pair, ns.scan("XResolution"), dpi)
        sub(pair, ns.scan("YResolution"), dpi)
    sub(sub(profile, ns.scan("ColorSpaces")), ns.scan("ColorSpace"), "sRGB")


def discrete_resolutions(source: SourceCapabilities) -> tuple[int, ...]:
    """The resolutions a source scans at with X = Y, lowest first: the only pairs clients take."""
    return tuple(sorted(set(source.resolutions_x) & set(source.resolutions_y)))


def _range(parent: etree._Element, local: str, low: int, high: int, normal: int) -> None:
    el = sub(parent, ns.scan(local))
    sub(el, ns.scan("Min"), low)
    sub(el, ns.scan("Max"), high)
    sub(el, ns.scan("Normal"), normal)
    sub(el, ns.scan("Step"), 1)


def scanner_capabilities(scanner: AnnouncedScanner, admin_uri: str | None = None,
                         icon_uri: str | None = None) -> etree._Element:
    """The ``scan:ScannerCapabilities`` document of ``scanner``; URIs are absolute, on the address the client used."""
    caps = scanner.capabilities
    root = etree.Element(ns.scan("ScannerCapabilities"), nsmap=ns.NSMAP)
    sub(root, ns.pwg("Version"), ns.VERSION)
    sub(root, ns.pwg("MakeAndModel"), scanner.make_and_model)
    sub(root, ns.pwg("SerialNumber"), scanner.serial or scanner.uuid)
    if scanner.manufacturer:
        sub(root, ns.scan("Manufacturer"), scanner.manufacturer)
    sub(root, ns.scan("UUID"), scanner.uuid)
    if admin_uri:
        sub(root, ns.scan("AdminURI"), admin_uri)
    if icon_uri:
        sub(root, ns.scan("IconURI"), icon_uri)
    if caps.platen is not None:
        _input_caps(sub(root, ns.scan("Platen")), "PlatenInputCaps", caps.platen, caps.formats,
                    caps.content_types, PLATEN_INTENTS)
    if caps.adf_front is not None:
        adf = sub(root, ns.scan("Adf"))
        _input_caps(adf, "AdfSimplexInputCaps", caps.adf_front, caps.formats, caps.content_types, FEEDER_INTENTS)
        if caps.adf_back is not None:
            _input_caps(adf, "AdfDuplexInputCaps", caps.adf_back, caps.formats, caps.content_types,
                        FEEDER_INTENTS)
        options = sub(adf, ns.scan("AdfOptions"))
        if caps.adf_back is not None:
            sub(options, ns.scan("AdfOption"), "Duplex")
    if caps.brightness:
        _range(root, "BrightnessSupport", *EXPOSURE_RANGE)
    if caps.contrast:
        _range(root, "ContrastSupport", *EXPOSURE_RANGE)
    return root
