"""Our own checker for WS-Scan bodies, written from the facts of Microsoft's WS-Scan schema.

The schema itself is not here (its licence forbids copying it); these tables
restate what a message must look like, in our own terms:

- every element is in the scan namespace; of the attributes only MustHonor,
  Override and UsedDefault are namespace-qualified (the schema's global
  attributes), and only where the schema puts them; ElementData's Name and
  Valid and a condition's Id are unqualified;
- the children of each element come in a fixed order, with fixed counts;
- enumerated values are the schema's keywords, numbers lie in their ranges,
  strings within their lengths, times are xs:dateTime.

``problems(body)`` lists every deviation in one body element; an empty list
means the body follows the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

SCAN = "http://schemas.microsoft.com/windows/2006/08/wdp/scan"
XOP = "http://www.w3.org/2004/08/xop/include"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
XML = "http://www.w3.org/XML/1998/namespace"

# ------------------------------------------------------------------ content models
# "A B? C* D+" is a sequence (? optional, * any number, + at least one);
# "(A|B)" is a choice of exactly one. A key "ticket:X" applies inside a scan
# ticket's DocumentParameters, "final:X" inside DocumentFinalParameters, and
# "Parent/X" to an X under that parent; a plain "X" applies everywhere else.

_TICKET_SIDE = "ScanRegion? ColorProcessing? Resolution?"
_FINAL_SIDE = "ScanRegion ColorProcessing Resolution"
_SOURCE = "{p}OpticalResolution {p}Resolutions {p}Color {p}MinimumSize {p}MaximumSize"

MODELS = {
    # operation responses
    "GetScannerElementsResponse": "ScannerElements",
    "ScannerElements": "ElementData+",
    "GetJobElementsResponse": "JobElements",
    "JobElements": "ElementData+",
    "ValidateScanTicketResponse": "ValidationInfo",
    "ValidationInfo": "ValidTicket ImageInformation ValidScanTicket?",
    "CreateScanJobResponse": "JobId JobToken ImageInformation DocumentFinalParameters",
    "RetrieveImageResponse": "ScanData",
    "CancelJobResponse": "",
    "GetActiveJobsResponse": "ActiveJobs",
    "GetJobHistoryResponse": "JobHistory",
    "ActiveJobs": "JobSummary*",
    "JobHistory": "JobSummary*",
    "JobSummary": "JobId JobName JobOriginatingUserName JobState JobStateReasons? ScansCompleted",
    # images
    "ImageInformation": "MediaFrontImageInfo MediaBackImageInfo?",
    "MediaFrontImageInfo": "PixelsPerLine NumberOfLines BytesPerLine",
    "MediaBackImageInfo": "PixelsPerLine NumberOfLines BytesPerLine",
    # tickets
    "ScanTicket": "JobDescription DocumentParameters?",
    "ValidScanTicket": "JobDescription DocumentParameters?",
    "DefaultScanTicket": "JobDescription DocumentParameters?",
    "JobDescription": "JobName JobOriginatingUserName JobInformation?",
    "DocumentParameters": "Format? CompressionQualityFactor? ImagesToTransfer? InputSource? FilmScanMode? "
                          "ContentType? InputSize? Exposure? Scaling? Rotation? MediaSides?",
    "ticket:InputSize": "(DocumentSizeAutoDetect|InputMediaSize)",
    "ticket:Exposure": "(AutoExposure|ExposureSettings)",
    "ticket:ExposureSettings": "Contrast? Brightness? Sharpness?",
    "ticket:MediaSides": "MediaFront MediaBack?",
    "ticket:MediaFront": _TICKET_SIDE,
    "ticket:MediaBack": _TICKET_SIDE,
    "ticket:ScanRegion": "ScanRegionXOffset? ScanRegionYOffset? ScanRegionWidth ScanRegionHeight",
    "ticket:Resolution": "Width Height?",
    "InputMediaSize": "Width Height",
    "Scaling": "ScalingWidth ScalingHeight",
    "DocumentFinalParameters": "Format CompressionQualityFactor ImagesToTransfer InputSource FilmScanMode? "
                               "ContentType InputSize Exposure Scaling Rotation MediaSides",
    "final:InputSize": "InputMediaSize",
    "final:Exposure": "ExposureSettings",
    "final:ExposureSettings": "Contrast Brightness Sharpness",
    "final:MediaSides": "MediaFront MediaBack?",
    "final:MediaFront": _FINAL_SIDE,
    "final:MediaBack": _FINAL_SIDE,
    "final:ScanRegion": "ScanRegionXOffset ScanRegionYOffset ScanRegionWidth ScanRegionHeight",
    "final:Resolution": "Width Height",
    # jobs and documents
    "JobStatus": "JobId JobState JobStateReasons? ScansCompleted JobCreatedTime? JobCompletedTime?",
    "JobStateReasons": "JobStateReason+",
    "Documents": "DocumentFinalParameters Document+",
    "Document": "DocumentDescription",
    "DocumentDescription": "DocumentName",
    # the scanner
    "ScannerDescription": "ScannerName+ ScannerInfo* ScannerLocation*",
    "ScannerConfiguration": "DeviceSettings Platen? ADF? Film?",
    "DeviceSettings": "FormatsSupported CompressionQualityFactorSupported ContentTypesSupported "
                      "DocumentSizeAutoDetectSupported AutoExposureSupported BrightnessSupported ContrastSupported "
                      "ScalingRangeSupported RotationsSupported",
    "FormatsSupported": "FormatValue+",
    "CompressionQualityFactorSupported": "MinValue MaxValue",
    "ContentTypesSupported": "ContentTypeValue+",
    "ScalingRangeSupported": "ScalingWidth ScalingHeight",
    "ScalingRangeSupported/ScalingWidth": "MinValue MaxValue",
    "ScalingRangeSupported/ScalingHeight": "MinValue MaxValue",
    "RotationsSupported": "RotationValue+",
    "Platen": _SOURCE.format(p="Platen"),
    "ADF": "ADFSupportsDuplex ADFFront ADFBack?",
    "ADFFront": _SOURCE.format(p="ADF"),
    "ADFBack": _SOURCE.format(p="ADF"),
    "PlatenOpticalResolution": "Width Height?",
    "ADFOpticalResolution": "Width Height?",
    "PlatenResolutions": "Widths Heights",
    "ADFResolutions": "Widths Heights",
    "Widths": "Width+",
    "Heights": "Height+",
    "PlatenColor": "ColorEntry+",
    "ADFColor": "ColorEntry+",
    "PlatenMinimumSize": "Width Height",
    "PlatenMaximumSize": "Width Height",
    "ADFMinimumSize": "Width Height",
    "ADFMaximumSize": "Width Height",
    "ScannerStatus": "ScannerCurrentTime ScannerState ScannerStateReasons? ActiveConditions ConditionHistory?",
    "ScannerStateReasons": "ScannerStateReason+",
    "ActiveConditions": "DeviceCondition*",
    "ConditionHistory": "ConditionHistoryEntry+",
    "DeviceCondition": "Time Name Component Severity",
    "ConditionHistoryEntry": "Time Name Component Severity ClearTime",
    # events
    "ScannerElementsChangeEvent": "ElementChanges",
    "ElementChanges": "ScannerDescription? ScannerConfiguration? DefaultScanTicket?",
    "ScannerStatusSummaryEvent": "StatusSummary",
    "StatusSummary": "ScannerState ScannerStateReasons?",
    "ScannerStatusConditionEvent": "DeviceCondition",
    "ScannerStatusConditionClearedEvent": "DeviceConditionCleared",
    "DeviceConditionCleared": "ConditionId ConditionClearTime",
    "JobStatusEvent": "JobStatus",
    "JobEndStateEvent": "JobEndState",
    "JobEndState": "JobId JobCompletedState JobCompletedStateReasons JobName JobOriginatingUserName ScansCompleted "
                   "JobCompletedTime?",
    "JobCompletedStateReasons": "JobStateReason+",
    "ScanAvailableEvent": "ClientContext ScanIdentifier InputSource?",
    # inside a WS-Eventing SubscribeResponse
    "DestinationResponses": "DestinationResponse+",
    "DestinationResponse": "ClientContext DestinationToken",
}

# ------------------------------------------------------------------ leaf values

_KEYWORD_EXTENSION = re.compile(r"^\w+:[\w_\-.]+$")  # a vendor's keyword, prefixed by its namespace
_MIME_LIKE = re.compile(r"^\w+[\w:/;_\-\\+.]*$")
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")

FORMATS = {"dib", "exif", "jbig", "jfif", "jpeg2k", "pdf-a", "png", "tiff-single-uncompressed", "tiff-single-g4",
           "tiff-single-g3mh", "tiff-single-jpeg-tn2", "tiff-multi-uncompressed", "tiff-multi-g4",
           "tiff-multi-g3mh", "tiff-multi-jpeg-tn2", "xps"}
INPUT_SOURCES = {"ADF", "ADFDuplex", "Film", "Platen"}
CONTENT_TYPES = {"Auto", "Text", "Photo", "Halftone", "Mixed"}
COLOURS = {"BlackAndWhite1", "Grayscale4", "Grayscale8", "Grayscale16", "RGB24", "RGB48", "RGBa32", "RGBa64"}
FILM_MODES = {"NotApplicable", "ColorSlideFilm", "ColorNegativeFilm", "BlackandWhiteNegativeFilm"}
ROTATIONS = {"0", "90", "180", "270"}
JOB_STATES = {"Aborted", "Canceled", "Completed", "Creating", "Pending", "Pending-Held", "Processing", "Started",
              "Terminating"}
JOB_STATE_REASONS = {"InvalidScanTicket", "CompressionError", "DocumentFormatError", "JobCanceledAtDevice",
                     "JobCompletedSuccessfully", "JobCompletedWithErrors", "JobCompletedWithWarnings", "JobScanning",
                     "JobScanningAndTransfering", "JobTimedOut", "JobTransfering", "None", "ScannerStopped"}
SCANNER_STATES = {"Idle", "Processing", "Stopped"}
SCANNER_STATE_REASONS = {"AttentionRequired", "Calibrating", "CoverOpen", "InterlockOpen", "InternalStorageFull",
                         "LampError", "LampWarming", "MediaJam", "MultipleFeedError", "None", "Paused"}
CONDITION_NAMES = {"Calibrating", "CoverOpen", "InputTrayEmpty", "InterlockOpen", "InternalStorageFull", "MediaJam",
                   "LampError", "LampWarning", "MultipleFeedError"}
CONDITION_COMPONENTS = {"ADF", "Film", "MediaPath", "Platen"}
CONDITION_SEVERITIES = {"Informational", "Warning", "Critical"}
FAULT_SUBCODES = {"InvalidArgs", "OperationFailed", "ServerErrorTemporaryError", "ServerErrorInternalError",
                  "ServerErrorNotAcceptingJobs", "ClientErrorJobCancelled", "ClientErrorJobIdNotFound",
                  "ClientErrorFormatNotSupported", "ClientErrorInvalidScanIdentifier",
                  "ClientErrorInvalidDestinationToken", "ClientErrorNoImagesAvailable", "ClientErrorInvalidJobToken",
                  "ClientErrorConflictingRequiredParameters"}
BOOLEANS = {"true", "false", "1", "0"}


@dataclass(frozen=True)
class Keywords:
    values: frozenset
    extensible: bool = True  # a prefixed vendor keyword is allowed too

    def check(self, text: str) -> str | None:
        if text in self.values or (self.extensible and _KEYWORD_EXTENSION.match(text)):
            return None
        return f"{text!r} is not one of its keywords"


@dataclass(frozen=True)
class Number:
    low: int | None = None
    high: int | None = None

    def check(self, text: str) -> str | None:
        if not re.fullmatch(r"[+-]?\d+", text):
            return f"{text!r} is not an integer"
        value = int(text)
        if not -2**31 <= value < 2**31:
            return f"{value} is outside xs:int"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"{value} lies outside {self.low}..{self.high}"
        return None


@dataclass(frozen=True)
class Text:
    longest: int

    def check(self, text: str) -> str | None:
        return None if len(text) <= self.longest else f"{len(text)} characters, more than {self.longest}"


class Boolean:
    @staticmethod
    def check(text: str) -> str | None:
        return None if text in BOOLEANS else f"{text!r} is not a boolean"


class DateTime:
    @staticmethod
    def check(text: str) -> str | None:
        return None if _DATETIME.match(text) else f"{text!r} is not an xs:dateTime"


class Format:
    @staticmethod
    def check(text: str) -> str | None:
        return None if text in FORMATS or _MIME_LIKE.match(text) else f"{text!r} is not a format"


ONE, ZERO = Number(1), Number(0)
STRING127, STRING255 = Text(127), Text(255)
_QUALITY, _ADJUST1000, _ADJUST100, _SCALE = Number(0, 100), Number(-1000, 1000), Number(-100, 100), Number(1, 1000)

LEAVES = {
    "ValidTicket": Boolean, "DocumentSizeAutoDetectSupported": Boolean, "AutoExposureSupported": Boolean,
    "BrightnessSupported": Boolean, "ContrastSupported": Boolean, "ADFSupportsDuplex": Boolean,
    "DocumentSizeAutoDetect": Boolean, "AutoExposure": Boolean,
    "JobId": ONE, "PixelsPerLine": ONE, "NumberOfLines": ONE, "ConditionId": ONE, "Width": ONE, "Height": ONE,
    "ScanRegionWidth": ONE, "ScanRegionHeight": ONE,
    "BytesPerLine": ZERO, "ScansCompleted": ZERO, "ImagesToTransfer": ZERO, "ScanRegionXOffset": ZERO,
    "ScanRegionYOffset": ZERO,
    "CompressionQualityFactor": _QUALITY, "CompressionQualityFactorSupported/MinValue": _QUALITY,
    "CompressionQualityFactorSupported/MaxValue": _QUALITY,
    "Contrast": _ADJUST1000, "Brightness": _ADJUST1000, "Sharpness": _ADJUST100,
    "ScalingWidth": _SCALE, "ScalingHeight": _SCALE, "ScalingWidth/MinValue": _SCALE, "ScalingWidth/MaxValue": _SCALE,
    "ScalingHeight/MinValue": _SCALE, "ScalingHeight/MaxValue": _SCALE,
    "Format": Format, "FormatValue": Format,
    "InputSource": Keywords(frozenset(INPUT_SOURCES)),
    "ContentType": Keywords(frozenset(CONTENT_TYPES)), "ContentTypeValue": Keywords(frozenset(CONTENT_TYPES)),
    "ColorProcessing": Keywords(frozenset(COLOURS)), "ColorEntry": Keywords(frozenset(COLOURS)),
    "FilmScanMode": Keywords(frozenset(FILM_MODES)),
    "Rotation": Keywords(frozenset(ROTATIONS)), "RotationValue": Keywords(frozenset(ROTATIONS)),
    "JobState": Keywords(frozenset(JOB_STATES)), "JobCompletedState": Keywords(frozenset(JOB_STATES)),
    "JobStateReason": Keywords(frozenset(JOB_STATE_REASONS)),
    "ScannerState": Keywords(frozenset(SCANNER_STATES)),
    "ScannerStateReason": Keywords(frozenset(SCANNER_STATE_REASONS)),
    "DeviceCondition/Name": Keywords(frozenset(CONDITION_NAMES), extensible=False),
    "ConditionHistoryEntry/Name": Keywords(frozenset(CONDITION_NAMES), extensible=False),
    "Component": Keywords(frozenset(CONDITION_COMPONENTS), extensible=False),
    "Severity": Keywords(frozenset(CONDITION_SEVERITIES), extensible=False),
    "ScannerCurrentTime": DateTime, "Time": DateTime, "ClearTime": DateTime, "JobCreatedTime": DateTime,
    "JobCompletedTime": DateTime, "ConditionClearTime": DateTime,
    "ScannerName": STRING127, "ScannerInfo": STRING127, "ScannerLocation": STRING127,
    "JobName": STRING255, "JobOriginatingUserName": STRING255, "JobInformation": STRING255,
    "DocumentName": STRING255, "JobToken": STRING255, "ClientContext": STRING255, "ScanIdentifier": STRING255,
    "DestinationToken": STRING255,
}

# ------------------------------------------------------------------ attributes
# The elements that may carry the qualified attributes, by where they stand.

MUST_HONOR = {  # inside a ticket's DocumentParameters
    "DocumentParameters/Format", "DocumentParameters/CompressionQualityFactor", "DocumentParameters/ImagesToTransfer",
    "DocumentParameters/InputSource", "DocumentParameters/FilmScanMode", "DocumentParameters/ContentType",
    "DocumentParameters/InputSize", "DocumentParameters/Exposure", "DocumentParameters/Scaling",
    "DocumentParameters/Rotation", "ScanRegion/ScanRegionXOffset", "ScanRegion/ScanRegionYOffset",
    "ScanRegion/ScanRegionWidth", "ScanRegion/ScanRegionHeight", "MediaFront/ColorProcessing",
    "MediaBack/ColorProcessing", "MediaFront/Resolution", "MediaBack/Resolution",
}
OVERRIDE = {  # inside DocumentFinalParameters
    "DocumentFinalParameters/Format", "DocumentFinalParameters/CompressionQualityFactor",
    "DocumentFinalParameters/ImagesToTransfer", "DocumentFinalParameters/InputSource",
    "DocumentFinalParameters/FilmScanMode", "DocumentFinalParameters/ContentType",
    "DocumentFinalParameters/Rotation", "InputMediaSize/Width", "InputMediaSize/Height",
    "ExposureSettings/Contrast", "ExposureSettings/Brightness", "ExposureSettings/Sharpness",
    "Scaling/ScalingWidth", "Scaling/ScalingHeight", "ScanRegion/ScanRegionXOffset", "ScanRegion/ScanRegionYOffset",
    "ScanRegion/ScanRegionWidth", "ScanRegion/ScanRegionHeight", "MediaFront/ColorProcessing",
    "MediaBack/ColorProcessing", "Resolution/Width", "Resolution/Height",
}
LOCAL_ATTRIBUTES = {"ElementData": {"Name", "Valid"}, "DeviceCondition": {"Id"}, "ConditionHistoryEntry": {"Id"}}
ELEMENT_DATA = {  # the element an ElementData Name asks for, and the element it holds
    "ScannerDescription": "ScannerDescription", "ScannerConfiguration": "ScannerConfiguration",
    "ScannerStatus": "ScannerStatus", "DefaultScanTicket": "DefaultScanTicket", "JobStatus": "JobStatus",
    "ScanTicket": "ScanTicket", "Documents": "Documents", "Document": "Documents",
}


# ------------------------------------------------------------------ the checker

def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _parse_model(text: str):
    if text.startswith("("):
        return "choice", text.strip("()").split("|")
    counts = {"": (1, 1), "?": (0, 1), "*": (0, None), "+": (1, None)}
    items = []
    for token in text.split():
        mark = token[-1] if token[-1] in "?*+" else ""
        items.append((token.rstrip("?*+"), *counts[mark]))
    return "sequence", items


def _check_sequence(items, names: list[str]) -> str | None:
    """Whether names follow the sequence; else what is wrong."""
    i = 0
    for name, low, high in items:
        count = 0
        while i < len(names) and names[i] == name and (high is None or count < high):
            i += 1
            count += 1
        if count < low:
            found = names[i] if i < len(names) else "nothing"
            return f"{name} is required here, found {found}"
    if i < len(names):
        return f"{names[i]} is not allowed here (or out of order) after {names[:i]}"
    return None


class Checker:
    def __init__(self) -> None:
        self.found: list[str] = []

    def problem(self, path: str, text: str) -> None:
        self.found.append(f"{path}: {text}")

    def model_for(self, parent: str, name: str, mode: str | None):
        for key in (f"{parent}/{name}", f"{mode}:{name}" if mode else None, name):
            if key and key in MODELS:
                return _parse_model(MODELS[key])
        return None

    def leaf_for(self, parent: str, name: str):
        return LEAVES.get(f"{parent}/{name}") or LEAVES.get(name)

    def element(self, el: etree._Element, path: str, parent: str, mode: str | None) -> None:
        q = etree.QName(el)
        name = q.localname
        here = f"{path}/{name}"
        if q.namespace != SCAN:
            self.problem(here, f"element in namespace {q.namespace}, not the scan namespace")
            return
        if name == "DocumentParameters":
            mode = "ticket"
        elif name == "DocumentFinalParameters":
            mode = "final"
        self.attributes(el, here, parent, name, mode)
        children = [c for c in el if isinstance(c.tag, str)]
        if name == "ElementData":
            self.element_data(el, children, here)
            return
        if name == "ScanData":
            self.scan_data(el, children, here)
            return
        model = self.model_for(parent, name, mode)
        if model is None:
            self.leaf(el, children, here, parent, name)
            return
        if (el.text or "").strip() or any((c.tail or "").strip() for c in children):
            self.problem(here, "text inside an element that holds elements")
        names = [_local(c) if etree.QName(c).namespace == SCAN else f"{{{etree.QName(c).namespace}}}"
                 for c in children]
        kind, items = model
        if kind == "choice":
            if len(names) != 1 or names[0] not in items:
                self.problem(here, f"must hold exactly one of {items}, holds {names}")
        else:
            wrong = _check_sequence(items, names)
            if wrong:
                self.problem(here, wrong)
        for child in children:
            self.element(child, here, name, mode)

    def leaf(self, el, children, here, parent, name) -> None:
        rule = self.leaf_for(parent, name)
        if rule is None:
            self.problem(here, "an element these rules do not know")
            return
        if children:
            self.problem(here, "a value element with child elements")
            return
        wrong = rule.check((el.text or "").strip() if not isinstance(rule, Text) else (el.text or ""))
        if wrong:
            self.problem(here, wrong)

    def attributes(self, el, here, parent, name, mode) -> None:
        for key, value in el.attrib.items():
            q = etree.QName(key)
            if q.namespace is None:
                if q.localname not in LOCAL_ATTRIBUTES.get(name, ()):
                    self.problem(here, f"unqualified attribute {q.localname} is not declared on {name}")
                continue
            if q.namespace != SCAN:
                self.problem(here, f"attribute {key} from another namespace")
                continue
            where = f"{parent}/{name}"
            allowed = {"MustHonor": mode == "ticket" and where in MUST_HONOR,
                       "Override": mode == "final" and where in OVERRIDE,
                       "UsedDefault": mode == "final" and where in OVERRIDE}
            if not allowed.get(q.localname, False):
                self.problem(here, f"attribute wscn:{q.localname} does not belong here"
                             + (" (a local attribute: write it unprefixed)" if q.localname in
                                LOCAL_ATTRIBUTES.get(name, ()) else ""))
            elif value not in BOOLEANS:
                self.problem(here, f"wscn:{q.localname}={value!r} is not a boolean")
        for required in LOCAL_ATTRIBUTES.get(name, ()):
            if required not in el.attrib:
                self.problem(here, f"the unqualified attribute {required} is required")
        if "Id" in LOCAL_ATTRIBUTES.get(name, ()) and "Id" in el.attrib:
            wrong = ONE.check(el.get("Id"))
            if wrong:
                self.problem(here, f"Id: {wrong}")

    def element_data(self, el, children, here) -> None:
        name, valid = el.get("Name"), el.get("Valid")
        if valid is not None and valid not in BOOLEANS:
            self.problem(here, f"Valid={valid!r} is not a boolean")
        if name is None:
            return
        prefix, _, local = name.rpartition(":")
        uri = el.nsmap.get(prefix or None)
        if not local or (prefix and uri is None):
            self.problem(here, f"Name={name!r} is not a QName with a declared prefix")
            return
        if valid in ("false", "0"):
            if children:
                self.problem(here, "Valid=false with content")
            return
        holds = ELEMENT_DATA.get(local) if uri == SCAN else None
        if len(children) != 1 or holds is None or children[0].tag != f"{{{SCAN}}}{holds}":
            self.problem(here, f"Valid=true must hold the {name} asked for, holds {[_local(c) for c in children]}")
            return
        self.element(children[0], here, "ElementData", None)

    def scan_data(self, el, children, here) -> None:
        if len(children) != 1 or children[0].tag != f"{{{XOP}}}Include" or \
                not (children[0].get("href") or "").startswith("cid:"):
            self.problem(here, "ScanData must hold one xop:Include with a cid: href")


def problems(body: etree._Element) -> list[str]:
    """Every deviation from the rules in one WS-Scan body element (a response, an event, a SubscribeResponse)."""
    checker = Checker()
    if etree.QName(body).namespace == SCAN:
        if _local(body) not in MODELS:
            checker.problem(_local(body), "not a WS-Scan message these rules know")
        else:
            checker.element(body, "", "", None)
    else:
        for part in body.iter(f"{{{SCAN}}}DestinationResponses"):
            checker.element(part, _local(body), _local(body), None)
    return checker.found


def fault_problems(envelope: etree._Element) -> list[str]:
    """A SOAP 1.2 fault as WS-Addressing and the scan service send it: action, code, subcode, reason."""
    found = []
    action = envelope.findtext(f"{{{SOAP}}}Header/{{{WSA}}}Action")
    if action != WSA + "/fault":
        found.append(f"fault Action is {action!r}")
    fault = envelope.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    if fault is None:
        return found + ["no soap:Fault in the Body"]
    names = [_local(c) for c in fault if isinstance(c.tag, str)]
    wrong = _check_sequence(_parse_model("Code Reason Node? Role? Detail?")[1], names)
    if wrong:
        found.append(wrong)
    code = fault.find(f"{{{SOAP}}}Code/{{{SOAP}}}Value")
    value = _resolve(code)
    if value not in ((SOAP, "Sender"), (SOAP, "Receiver")):
        found.append(f"Code {code.text if code is not None else None!r} is neither soap:Sender nor soap:Receiver")
    sub = fault.find(f"{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value")
    subcode = _resolve(sub)
    if subcode is None:
        found.append("no Subcode QName with a declared prefix")
    elif subcode[0] == SCAN:
        if subcode[1] not in FAULT_SUBCODES:
            found.append(f"subcode {subcode[1]} is not in the scan service's fault list")
        elif value is not None:
            receiver = subcode[1].startswith("Server") or subcode[1] == "OperationFailed"
            if value[1] != ("Receiver" if receiver else "Sender"):
                found.append(f"{subcode[1]} is a {'Receiver' if receiver else 'Sender'} fault, sent as {value[1]}")
    texts = fault.findall(f"{{{SOAP}}}Reason/{{{SOAP}}}Text")
    if not texts or any(t.get(f"{{{XML}}}lang") is None for t in texts):
        found.append("Reason needs a Text with xml:lang")
    return found


def _resolve(el: etree._Element | None) -> tuple[str, str] | None:
    if el is None or not el.text:
        return None
    prefix, _, local = el.text.strip().rpartition(":")
    uri = el.nsmap.get(prefix or None)
    return (uri, local) if uri else None
