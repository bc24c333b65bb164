"""ScanTicket and DocumentParameters, both ways: a client's ticket in, the parameters a job uses out
(DefaultScanTicket, DocumentFinalParameters, ValidateScanTicket's answer), and ImageInformation.

Parsing is lenient about what real clients add or leave out; children go out
in the schema's order, and required ones are never left out.
"""

from __future__ import annotations

from lxml import etree

from gateway.model import (
    DocumentParameters, FinalParameters, ImageInformation, JobDescription, Requested, RequestedRegion, RequestedSide,
    ScanTicket, Size, Used, UsedSide,
)
from gateway.wsd.scan_messages.wscn import (
    BOOL, bool_text, bounded, element, find, integer, limited, must_honor, q, req_int, req_size, req_text, sub,
)
from gateway.wsd.soap import invalid_args


def _side(el: etree._Element | None) -> RequestedSide | None:
    if el is None:
        return None
    region_el = el.find(q("ScanRegion"))
    region = None
    if region_el is not None:
        region = RequestedRegion(
            x_offset=req_int(region_el, "ScanRegionXOffset"),
            y_offset=req_int(region_el, "ScanRegionYOffset"),
            width=req_int(region_el, "ScanRegionWidth"),
            height=req_int(region_el, "ScanRegionHeight"),
        )
    return RequestedSide(
        region=region,
        color=req_text(el, "ColorProcessing"),
        resolution=req_size(el.find(q("Resolution")), "Resolution"),
    )


def parse_ticket(ticket_el: etree._Element | None) -> ScanTicket:
    """A ScanTicket element -> ScanTicket. Absent parts take our defaults later."""
    if ticket_el is None:
        raise invalid_args("the request has no ScanTicket")
    jd = ticket_el.find(q("JobDescription"))

    def text(parent, local, default=""):
        el = find(parent, local)
        return bounded((el.text or "").strip(), local) if el is not None else default

    description = JobDescription(
        name=text(jd, "JobName", "Scan") or "Scan",
        user=text(jd, "JobOriginatingUserName"),
        information=text(jd, "JobInformation", None) if jd is not None else None,
    )
    dp = ticket_el.find(q("DocumentParameters"))
    if dp is None:
        return ScanTicket(description, DocumentParameters())

    input_size = find(dp, "InputSize")
    media_size = None
    auto_detect = False
    if input_size is not None:
        media_size = req_size(input_size.find(q("InputMediaSize")), "InputMediaSize", must_honor(input_size))
        ad = input_size.find(q("DocumentSizeAutoDetect"))
        auto_detect = ad is not None and BOOL.get((ad.text or "").strip(), False)

    exposure = dp.find(q("Exposure"))
    exposure_mh = exposure is not None and must_honor(exposure)
    auto = None
    if exposure is not None and exposure.find(q("AutoExposure")) is not None:
        ae = exposure.find(q("AutoExposure"))
        auto = Requested(BOOL.get((ae.text or "").strip(), False), exposure_mh or must_honor(ae))
    settings = find(exposure, "ExposureSettings")

    scaling = dp.find(q("Scaling"))
    scaling_req = None
    if scaling is not None:
        sw, sh = scaling.find(q("ScalingWidth")), scaling.find(q("ScalingHeight"))
        if sw is None or sh is None:
            raise invalid_args("Scaling needs ScalingWidth and ScalingHeight")
        scaling_req = Requested(Size(integer(sw, "ScalingWidth"), integer(sh, "ScalingHeight")), must_honor(scaling))

    sides = dp.find(q("MediaSides"))
    return ScanTicket(description, DocumentParameters(
        format=req_text(dp, "Format"),
        compression_quality=req_int(dp, "CompressionQualityFactor"),
        images_to_transfer=req_int(dp, "ImagesToTransfer"),
        input_source=req_text(dp, "InputSource"),
        content_type=req_text(dp, "ContentType"),
        input_size=media_size,
        auto_detect_size=auto_detect,
        auto_exposure=auto,
        brightness=req_int(settings, "Brightness", inherit=exposure_mh),
        contrast=req_int(settings, "Contrast", inherit=exposure_mh),
        sharpness=req_int(settings, "Sharpness", inherit=exposure_mh),
        scaling=scaling_req,
        rotation=req_int(dp, "Rotation"),
        front=_side(find(sides, "MediaFront")),
        back=_side(find(sides, "MediaBack")),
    ))


def _used(parent: etree._Element, local: str, u: Used, final: bool) -> etree._Element:
    value = u.value.value if hasattr(u.value, "value") else u.value
    el = sub(parent, local, value)
    if final and u.override:
        el.set(q("Override"), "true")
    if final and u.used_default:
        el.set(q("UsedDefault"), "true")
    return el


def _flag(el: etree._Element, override: bool, default: bool, final: bool) -> etree._Element:
    if final and override:
        el.set(q("Override"), "true")
    if final and default:
        el.set(q("UsedDefault"), "true")
    return el


def _media_side(parent: etree._Element, local: str, side: UsedSide, final: bool) -> None:
    el = sub(parent, local)
    region = sub(el, "ScanRegion")
    r = side.region
    for name, v in (("ScanRegionXOffset", r.x_offset), ("ScanRegionYOffset", r.y_offset),
                    ("ScanRegionWidth", r.width), ("ScanRegionHeight", r.height)):
        _flag(sub(region, name, v), side.region_override, side.region_default, final)
    _flag(sub(el, "ColorProcessing", side.color.value), side.color_override, side.color_default, final)
    res = sub(el, "Resolution")
    _flag(sub(res, "Width", side.resolution.width), side.resolution_override, side.resolution_default, final)
    _flag(sub(res, "Height", side.resolution.height), side.resolution_override, side.resolution_default, final)


def document_parameters(p: FinalParameters, local: str = "DocumentParameters") -> etree._Element:
    """DocumentParameters (default or corrected ticket) or DocumentFinalParameters (with Override/UsedDefault)."""
    final = local == "DocumentFinalParameters"
    el = element(local)
    _used(el, "Format", p.format, final)
    _used(el, "CompressionQualityFactor", p.compression_quality, final)
    _used(el, "ImagesToTransfer", p.images_to_transfer, final)
    _used(el, "InputSource", p.input_source, final)
    _used(el, "ContentType", p.content_type, final)
    size = sub(sub(el, "InputSize"), "InputMediaSize")
    sub(size, "Width", p.input_size.width)
    sub(size, "Height", p.input_size.height)
    settings = sub(sub(el, "Exposure"), "ExposureSettings")
    _used(settings, "Contrast", p.contrast, final)
    _used(settings, "Brightness", p.brightness, final)
    _used(settings, "Sharpness", p.sharpness, final)
    scaling = sub(el, "Scaling")
    _flag(sub(scaling, "ScalingWidth", p.scaling.value.width), p.scaling.override, p.scaling.used_default, final)
    _flag(sub(scaling, "ScalingHeight", p.scaling.value.height), p.scaling.override, p.scaling.used_default, final)
    _used(el, "Rotation", p.rotation, final)
    sides = sub(el, "MediaSides")
    _media_side(sides, "MediaFront", p.front, final)
    if p.back is not None:
        _media_side(sides, "MediaBack", p.back, final)
    return el


def scan_ticket(ticket: ScanTicket, params: FinalParameters) -> etree._Element:
    el = element("ScanTicket")
    jd = sub(el, "JobDescription")
    sub(jd, "JobName", limited(ticket.description.name))
    sub(jd, "JobOriginatingUserName", limited(ticket.description.user))
    if ticket.description.information:
        sub(jd, "JobInformation", limited(ticket.description.information))
    el.append(document_parameters(params))
    return el


def default_scan_ticket(params: FinalParameters) -> etree._Element:
    el = element("DefaultScanTicket")
    jd = sub(el, "JobDescription")
    sub(jd, "JobName", "Scan")
    sub(jd, "JobOriginatingUserName", "")
    el.append(document_parameters(params))
    return el


def image_information(info: ImageInformation) -> etree._Element:
    el = element("ImageInformation")
    for local, side in (("MediaFrontImageInfo", info.front), ("MediaBackImageInfo", info.back)):
        if side is None:
            continue
        s = sub(el, local)
        sub(s, "PixelsPerLine", side.pixels_per_line)
        sub(s, "NumberOfLines", side.lines)
        sub(s, "BytesPerLine", side.bytes_per_line)
    return el


def validate_response(valid: bool, info: ImageInformation, corrected: FinalParameters | None,
                      ticket: ScanTicket) -> etree._Element:
    resp = element("ValidateScanTicketResponse")
    vi = sub(resp, "ValidationInfo")
    sub(vi, "ValidTicket", bool_text(valid))
    vi.append(image_information(info))
    if corrected is not None:
        vst = sub(vi, "ValidScanTicket")
        for child in scan_ticket(ticket, corrected):
            vst.append(child)
    return resp
