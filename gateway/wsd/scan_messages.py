"""WSD Scan Service bodies <-> typed values (tickets, elements, jobs).

Parsing is strict about types (a non-number where a number belongs is
``InvalidArgs``) and lenient about what real clients add or leave out.

Building follows the WS-Scan schema, which is what Windows' stack was made
from: every element is ``wscn:``-qualified, but only the three global
attributes (``MustHonor``, ``Override``, ``UsedDefault``) are; ``Name``,
``Valid`` and ``Id`` are local attributes and go out unprefixed. Children
come in the schema's order, required ones are never left out, and the
enumerated values are the schema's keywords. On input both attribute forms
are accepted.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Callable

from lxml import etree

from gateway.model import (
    Capabilities, Condition, DocumentParameters, FinalParameters, ImageInformation, JobDescription,
    JobView, Requested, RequestedRegion, RequestedSide, ScannerStatus, ScanTicket, Size,
    SourceCapabilities, Used, UsedSide,
)
from gateway.wsd import namespaces as ns
from gateway.wsd.soap import invalid_args
from gateway.wsd.vocabulary import keyword

W = ns.WSCN
_BOOL = {"true": True, "1": True, "false": False, "0": False}


def q(local: str) -> str:
    return ns.qname(W, local)


GLOBAL_ATTRIBUTES = ("MustHonor", "Override", "UsedDefault")
"""The only attributes the schema declares globally, hence the only ones written ``wscn:``-qualified."""

STRING127 = 127
STRING255 = 255
"""Most WS-Scan strings are limited to 255 characters, the scanner's description to 127."""
MAX_TEXT_LENGTH = STRING255
"""Characters in a client string we keep or show (JobName, JobOriginatingUserName, JobInformation,
DocumentName): the WS-Scan schema's String255. Longer is InvalidArgs, never stored."""
MAX_REQUESTED_NAMES = 64
"""Name elements in one RequestedElements; each distinct name is answered once."""


def _value(v) -> str:
    return keyword(v) if isinstance(v, enum.Enum) else str(v)


def sub(parent: etree._Element, local: str, text=None, **attrs) -> etree._Element:
    """A wscn child; ``attrs`` are local attributes (unprefixed), except the schema's global ones."""
    el = etree.SubElement(parent, q(local))
    if text is not None:
        el.text = _value(text)
    for k, v in attrs.items():
        el.set(q(k) if k in GLOBAL_ATTRIBUTES else k, v)
    return el


def _limited(text: str, limit: int = STRING255) -> str:
    """A string as long as the schema lets it be (a client's long job name is cut, not echoed invalid)."""
    return text if len(text) <= limit else text[:limit]


def sub_list(parent: etree._Element, container: str, item: str, values) -> etree._Element:
    """A container element with one child per value: FormatsSupported/FormatValue and the like."""
    el = sub(parent, container)
    for v in values:
        sub(el, item, v)
    return el


def _attr(el: etree._Element, local: str) -> str | None:
    return el.get(q(local), el.get(local))


def _time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- parsing


def _find(parent: etree._Element | None, *path: str) -> etree._Element | None:
    el = parent
    for local in path:
        if el is None:
            return None
        el = el.find(q(local))
    return el


def _must_honor(el: etree._Element) -> bool:
    value = _attr(el, "MustHonor")
    if value is None:
        return False
    if value.strip() not in _BOOL:
        raise invalid_args(f"MustHonor must be a boolean, not {value!r}")
    return _BOOL[value.strip()]


def _int(el: etree._Element, what: str) -> int:
    text = (el.text or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise invalid_args(f"{what} must be an integer, not {text!r}") from None
    if abs(value) > 2**31:
        raise invalid_args(f"{what} is out of range")
    return value


def _req_int(parent, *path, inherit: bool = False) -> Requested[int] | None:
    el = _find(parent, *path)
    if el is None:
        return None
    return Requested(_int(el, path[-1]), _must_honor(el) or inherit)


def _req_text(parent, *path) -> Requested[str] | None:
    el = _find(parent, *path)
    if el is None:
        return None
    return Requested((el.text or "").strip(), _must_honor(el))


def _req_size(el: etree._Element | None, what: str, mh: bool = False) -> Requested[Size] | None:
    if el is None:
        return None
    w = el.find(q("Width"))
    h = el.find(q("Height"))
    if w is None:
        raise invalid_args(f"{what} needs a Width")
    width = _int(w, f"{what} Width")
    height = _int(h, f"{what} Height") if h is not None else width
    return Requested(Size(width, height), mh or _must_honor(el))


def _side(el: etree._Element | None) -> RequestedSide | None:
    if el is None:
        return None
    region_el = el.find(q("ScanRegion"))
    region = None
    if region_el is not None:
        region = RequestedRegion(
            x_offset=_req_int(region_el, "ScanRegionXOffset"),
            y_offset=_req_int(region_el, "ScanRegionYOffset"),
            width=_req_int(region_el, "ScanRegionWidth"),
            height=_req_int(region_el, "ScanRegionHeight"),
        )
    return RequestedSide(
        region=region,
        color=_req_text(el, "ColorProcessing"),
        resolution=_req_size(el.find(q("Resolution")), "Resolution"),
    )


def parse_ticket(ticket_el: etree._Element | None) -> ScanTicket:
    """A ScanTicket element -> ScanTicket. Absent parts take our defaults later."""
    if ticket_el is None:
        raise invalid_args("the request has no ScanTicket")
    jd = ticket_el.find(q("JobDescription"))

    def text(parent, local, default=""):
        el = _find(parent, local)
        return _bounded((el.text or "").strip(), local) if el is not None else default

    description = JobDescription(
        name=text(jd, "JobName", "Scan") or "Scan",
        user=text(jd, "JobOriginatingUserName"),
        information=text(jd, "JobInformation", None) if jd is not None else None,
    )
    dp = ticket_el.find(q("DocumentParameters"))
    if dp is None:
        return ScanTicket(description, DocumentParameters())

    input_size = _find(dp, "InputSize")
    media_size = None
    auto_detect = False
    if input_size is not None:
        media_size = _req_size(input_size.find(q("InputMediaSize")), "InputMediaSize", _must_honor(input_size))
        ad = input_size.find(q("DocumentSizeAutoDetect"))
        auto_detect = ad is not None and _BOOL.get((ad.text or "").strip(), False)

    exposure = dp.find(q("Exposure"))
    exposure_mh = exposure is not None and _must_honor(exposure)
    auto = None
    if exposure is not None and exposure.find(q("AutoExposure")) is not None:
        ae = exposure.find(q("AutoExposure"))
        auto = Requested(_BOOL.get((ae.text or "").strip(), False), exposure_mh or _must_honor(ae))
    settings = _find(exposure, "ExposureSettings")

    scaling = dp.find(q("Scaling"))
    scaling_req = None
    if scaling is not None:
        sw, sh = scaling.find(q("ScalingWidth")), scaling.find(q("ScalingHeight"))
        if sw is None or sh is None:
            raise invalid_args("Scaling needs ScalingWidth and ScalingHeight")
        scaling_req = Requested(Size(_int(sw, "ScalingWidth"), _int(sh, "ScalingHeight")), _must_honor(scaling))

    sides = dp.find(q("MediaSides"))
    return ScanTicket(description, DocumentParameters(
        format=_req_text(dp, "Format"),
        compression_quality=_req_int(dp, "CompressionQualityFactor"),
        images_to_transfer=_req_int(dp, "ImagesToTransfer"),
        input_source=_req_text(dp, "InputSource"),
        content_type=_req_text(dp, "ContentType"),
        input_size=media_size,
        auto_detect_size=auto_detect,
        auto_exposure=auto,
        brightness=_req_int(settings, "Brightness", inherit=exposure_mh),
        contrast=_req_int(settings, "Contrast", inherit=exposure_mh),
        sharpness=_req_int(settings, "Sharpness", inherit=exposure_mh),
        scaling=scaling_req,
        rotation=_req_int(dp, "Rotation"),
        front=_side(_find(sides, "MediaFront")),
        back=_side(_find(sides, "MediaBack")),
    ))


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
        text = _bounded((el.text or "").strip(), "Name")
        prefix, _, local = text.rpartition(":")
        if not local or ":" in prefix or any(c.isspace() for c in text):
            raise invalid_args(f"{text!r} is not an element name")
        uri = el.nsmap.get(prefix or None) or W
        names.append(ns.qname(uri, local))
    return list(dict.fromkeys(names))


def _bounded(text: str, what: str) -> str:
    """A client string we keep or show, refused (never cut and stored) when the schema would not allow it."""
    if len(text) > MAX_TEXT_LENGTH:
        raise invalid_args(f"{what} is longer than {MAX_TEXT_LENGTH} characters")
    return text


def parse_job_id(body: etree._Element) -> int:
    el = body.find(q("JobId"))
    if el is None:
        raise invalid_args("the request has no JobId")
    return _int(el, "JobId")


def parse_job_token(body: etree._Element) -> str:
    el = body.find(q("JobToken"))
    return (el.text or "").strip() if el is not None else ""


def parse_document_name(body: etree._Element) -> str | None:
    el = _find(body, "DocumentDescription", "DocumentName")
    return _bounded((el.text or "").strip(), "DocumentName") if el is not None else None


# ---------------------------------------------------------------- building


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
    el = etree.Element(q("ScannerDescription"), nsmap={"wscn": W})
    sub(el, "ScannerName", _limited(caps.name, STRING127))
    if caps.info:
        sub(el, "ScannerInfo", _limited(caps.info, STRING127))
    if caps.location:
        sub(el, "ScannerLocation", _limited(caps.location, STRING127))
    return el


def scanner_configuration(caps: Capabilities) -> etree._Element:
    el = etree.Element(q("ScannerConfiguration"), nsmap={"wscn": W})
    ds = sub(el, "DeviceSettings")
    sub_list(ds, "FormatsSupported", "FormatValue", caps.formats)
    cq = sub(ds, "CompressionQualityFactorSupported")
    sub(cq, "MinValue", caps.quality_range[0])
    sub(cq, "MaxValue", caps.quality_range[1])
    sub_list(ds, "ContentTypesSupported", "ContentTypeValue", caps.content_types)
    sub(ds, "DocumentSizeAutoDetectSupported", _bool(caps.auto_detect_size))
    sub(ds, "AutoExposureSupported", _bool(caps.auto_exposure))
    sub(ds, "BrightnessSupported", _bool(caps.brightness))
    sub(ds, "ContrastSupported", _bool(caps.contrast))
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
        sub(adf, "ADFSupportsDuplex", _bool(caps.duplex))
        _source(sub(adf, "ADFFront"), "ADF", caps.adf_front)
        if caps.adf_back:
            _source(sub(adf, "ADFBack"), "ADF", caps.adf_back)
    return el


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _condition(parent: etree._Element, local: str, c: Condition, cleared: datetime | None = None) -> None:
    el = sub(parent, local, Id=str(c.id))
    sub(el, "Time", _time(c.time))
    sub(el, "Name", c.name)
    sub(el, "Component", c.component)
    sub(el, "Severity", c.severity)
    if cleared is not None:
        sub(el, "ClearTime", _time(cleared))


def scanner_status(status: ScannerStatus) -> etree._Element:
    el = etree.Element(q("ScannerStatus"), nsmap={"wscn": W})
    sub(el, "ScannerCurrentTime", _time(status.time))
    sub(el, "ScannerState", status.state)
    sub_list(el, "ScannerStateReasons", "ScannerStateReason", status.reasons)
    active = sub(el, "ActiveConditions")
    for c in status.conditions:
        _condition(active, "DeviceCondition", c)
    if status.history:
        history = sub(el, "ConditionHistory")
        for c, cleared in status.history:
            _condition(history, "ConditionHistoryEntry", c, cleared)
    return el


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
    el = etree.Element(q(local), nsmap={"wscn": W})
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
    el = etree.Element(q("ScanTicket"), nsmap={"wscn": W})
    jd = sub(el, "JobDescription")
    sub(jd, "JobName", _limited(ticket.description.name))
    sub(jd, "JobOriginatingUserName", _limited(ticket.description.user))
    if ticket.description.information:
        sub(jd, "JobInformation", _limited(ticket.description.information))
    el.append(document_parameters(params))
    return el


def default_scan_ticket(params: FinalParameters) -> etree._Element:
    el = etree.Element(q("DefaultScanTicket"), nsmap={"wscn": W})
    jd = sub(el, "JobDescription")
    sub(jd, "JobName", "Scan")
    sub(jd, "JobOriginatingUserName", "")
    el.append(document_parameters(params))
    return el


def image_information(info: ImageInformation) -> etree._Element:
    el = etree.Element(q("ImageInformation"), nsmap={"wscn": W})
    for local, side in (("MediaFrontImageInfo", info.front), ("MediaBackImageInfo", info.back)):
        if side is None:
            continue
        s = sub(el, local)
        sub(s, "PixelsPerLine", side.pixels_per_line)
        sub(s, "NumberOfLines", side.lines)
        sub(s, "BytesPerLine", side.bytes_per_line)
    return el


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
    el.set("Valid", _bool(content is not None))
    if content is not None:
        el.append(content)


def elements_response(operation: str, container: str, names: list[str],
                      makers: dict[str, Callable[[], etree._Element | None]]) -> etree._Element:
    """Get{Scanner,Job}ElementsResponse: one ElementData per name asked for, Valid="false" where unknown
    or where a maker has nothing to show yet (it returns None)."""
    resp = etree.Element(q(f"{operation}Response"), nsmap={"wscn": W})
    elements = sub(resp, container)
    for name in names:
        element_data(elements, name, makers[name]() if name in makers else None)
    return resp


def validate_response(valid: bool, info: ImageInformation, corrected: FinalParameters | None,
                      ticket: ScanTicket) -> etree._Element:
    resp = etree.Element(q("ValidateScanTicketResponse"), nsmap={"wscn": W})
    vi = sub(resp, "ValidationInfo")
    sub(vi, "ValidTicket", _bool(valid))
    vi.append(image_information(info))
    if corrected is not None:
        vst = sub(vi, "ValidScanTicket")
        for child in scan_ticket(ticket, corrected):
            vst.append(child)
    return resp


def create_job_response(job_id: int, token: str, info: ImageInformation, final: FinalParameters) -> etree._Element:
    resp = etree.Element(q("CreateScanJobResponse"), nsmap={"wscn": W})
    sub(resp, "JobId", job_id)
    sub(resp, "JobToken", _limited(token))
    resp.append(image_information(info))
    resp.append(document_parameters(final, "DocumentFinalParameters"))
    return resp


def retrieve_image_response(content_id: str) -> etree._Element:
    resp = etree.Element(q("RetrieveImageResponse"), nsmap={"wscn": W, "xop": ns.XOP})
    data = sub(resp, "ScanData")
    etree.SubElement(data, ns.qname(ns.XOP, "Include")).set("href", f"cid:{content_id}")
    return resp


def job_status(job: JobView) -> etree._Element:
    el = etree.Element(q("JobStatus"), nsmap={"wscn": W})
    sub(el, "JobId", job.id)
    sub(el, "JobState", job.state)
    sub_list(el, "JobStateReasons", "JobStateReason", job.reasons)
    sub(el, "ScansCompleted", job.images_done)
    sub(el, "JobCreatedTime", _time(job.created))
    if job.completed is not None:
        sub(el, "JobCompletedTime", _time(job.completed))
    return el


def documents(job: JobView) -> etree._Element | None:
    """The job's Documents, or None before its first image: the schema wants at least one Document."""
    if not job.documents:
        return None
    el = etree.Element(q("Documents"), nsmap={"wscn": W})
    el.append(document_parameters(job.final, "DocumentFinalParameters"))
    for name in job.documents:
        sub(sub(sub(el, "Document"), "DocumentDescription"), "DocumentName", _limited(name))
    return el


def _summary(parent: etree._Element, job: JobView) -> None:
    el = sub(parent, "JobSummary")
    sub(el, "JobId", job.id)
    sub(el, "JobName", _limited(job.ticket.description.name))
    sub(el, "JobOriginatingUserName", _limited(job.ticket.description.user))
    sub(el, "JobState", job.state)
    sub_list(el, "JobStateReasons", "JobStateReason", job.reasons)
    sub(el, "ScansCompleted", job.images_done)


def job_summaries(operation: str, container: str, jobs: list[JobView]) -> etree._Element:
    """GetActiveJobsResponse/ActiveJobs or GetJobHistoryResponse/JobHistory."""
    resp = etree.Element(q(f"{operation}Response"), nsmap={"wscn": W})
    parent = sub(resp, container)
    for job in jobs:
        _summary(parent, job)
    return resp


def empty_response(operation: str) -> etree._Element:
    return etree.Element(q(f"{operation}Response"), nsmap={"wscn": W})


# ---------------------------------------------------------------- events


def _event(name: str) -> etree._Element:
    return etree.Element(q(name), nsmap={"wscn": W})


def status_summary_event(status: ScannerStatus) -> etree._Element:
    el = _event("ScannerStatusSummaryEvent")
    summary = sub(el, "StatusSummary")
    sub(summary, "ScannerState", status.state)
    sub_list(summary, "ScannerStateReasons", "ScannerStateReason", status.reasons)
    return el


def condition_event(condition: Condition) -> etree._Element:
    el = _event("ScannerStatusConditionEvent")
    _condition(el, "DeviceCondition", condition)
    return el


def condition_cleared_event(condition_id: int, cleared: datetime) -> etree._Element:
    el = _event("ScannerStatusConditionClearedEvent")
    c = sub(el, "DeviceConditionCleared")
    sub(c, "ConditionId", condition_id)
    sub(c, "ConditionClearTime", _time(cleared))
    return el


def job_status_event(job: JobView) -> etree._Element:
    el = _event("JobStatusEvent")
    el.append(job_status(job))
    return el


def job_end_state_event(job: JobView) -> etree._Element:
    el = _event("JobEndStateEvent")
    end = sub(el, "JobEndState")
    sub(end, "JobId", job.id)
    sub(end, "JobCompletedState", job.state)
    sub_list(end, "JobCompletedStateReasons", "JobStateReason", job.reasons)
    sub(end, "JobName", _limited(job.ticket.description.name))
    sub(end, "JobOriginatingUserName", _limited(job.ticket.description.user))
    sub(end, "ScansCompleted", job.images_done)
    sub(end, "JobCompletedTime", _time(job.completed or job.created))
    return el


def scan_available_event(client_context: str, scan_identifier: str) -> etree._Element:
    el = _event("ScanAvailableEvent")
    sub(el, "ClientContext", _limited(client_context))
    sub(el, "ScanIdentifier", _limited(scan_identifier))
    return el


def elements_change_event(caps: Capabilities, defaults: FinalParameters) -> etree._Element:
    el = _event("ScannerElementsChangeEvent")
    changes = sub(el, "ElementChanges")
    changes.append(scanner_description(caps))
    changes.append(scanner_configuration(caps))
    changes.append(default_scan_ticket(defaults))
    return el


def status_change_events(old: ScannerStatus, new: ScannerStatus) -> list[tuple[str, Callable[[], etree._Element]]]:
    """The events that tell a change of ScannerStatus (summary, conditions added, cleared), as body builders."""
    events: list[tuple[str, Callable[[], etree._Element]]] = []
    if (old.state, old.reasons) != (new.state, new.reasons):
        events.append(("ScannerStatusSummaryEvent", lambda: status_summary_event(new)))
    old_ids = {c.id for c in old.conditions}
    new_ids = {c.id for c in new.conditions}
    events += [("ScannerStatusConditionEvent", lambda c=c: condition_event(c))
               for c in new.conditions if c.id not in old_ids]
    events += [("ScannerStatusConditionClearedEvent", lambda c=c: condition_cleared_event(c.id, new.time))
               for c in old.conditions if c.id not in new_ids]
    return events


def parse_push_identifiers(body: etree._Element) -> tuple[str | None, str | None]:
    """ScanIdentifier and DestinationToken of a CreateScanJobRequest (a push scan), if any."""
    def text(local):
        el = body.find(q(local))
        return (el.text or "").strip() if el is not None else None
    return text("ScanIdentifier"), text("DestinationToken")
