"""Typed values that cross between the wire (``wsd/``) and the hardware (``scanner/``).

Neither side imports the other; both speak in these. Sizes are in thousandths
of an inch and resolutions in dpi, as WSD Scan counts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class InputSource(str, enum.Enum):
    PLATEN = "Platen"
    ADF = "ADF"
    ADF_DUPLEX = "ADFDuplex"
    FILM = "Film"


class ColorMode(str, enum.Enum):
    BLACK_AND_WHITE_1 = "BlackAndWhite1"
    GRAYSCALE_8 = "Grayscale8"
    GRAYSCALE_16 = "Grayscale16"
    RGB_24 = "RGB24"
    RGB_48 = "RGB48"

    @property
    def channels(self) -> int:
        return 3 if self.value.startswith("RGB") else 1

    @property
    def depth(self) -> int:
        return {"BlackAndWhite1": 1, "Grayscale8": 8, "Grayscale16": 16, "RGB24": 8, "RGB48": 16}[self.value]


class JobState(str, enum.Enum):
    """Where a job is in its life (``scanner/jobs.py`` has the machine). The values are the model's own
    words; each front end maps them to its protocol's (``wsd/vocabulary.py``)."""

    PENDING = "Pending"
    STARTED = "Started"
    PROCESSING = "Processing"
    TERMINATING = "Terminating"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    CANCELED = "Canceled"

    @property
    def ended(self) -> bool:
        return self in (JobState.COMPLETED, JobState.ABORTED, JobState.CANCELED)


class ScannerState(str, enum.Enum):
    IDLE = "Idle"
    PROCESSING = "Processing"
    STOPPED = "Stopped"


class JobStateReason(enum.Enum):
    """Why a job is in its state, as the scanner core means it; front ends name them in their protocol."""

    NONE = "none"
    SCANNING = "scanning"
    """Being scanned; the bytes go out once the image is complete."""
    SCANNING_AND_TRANSFERRING = "scanning and transferring"
    """Being scanned, the bytes going out as they come."""
    TRANSFERRING = "transferring"
    COMPLETED_SUCCESSFULLY = "completed successfully"
    COMPLETED_WITH_ERRORS = "completed with errors"
    """It ended early: the transfer failed, the scanner reported an error, or the disk was full."""
    COMPLETED_WITH_WARNINGS = "completed with warnings"
    CANCELED_AT_DEVICE = "cancelled at the scanner"
    TIMED_OUT = "timed out"
    SCANNER_STOPPED = "scanner stopped"
    SCANNER_REMOVED = "scanner removed"
    """The scanner went away (unplugged) or stopped being served while the job ran."""
    COMPRESSION_ERROR = "compression error"
    DOCUMENT_FORMAT_ERROR = "document format error"
    INVALID_SCAN_TICKET = "invalid scan ticket"


class ScannerStateReason(enum.Enum):
    NONE = "none"
    ATTENTION_REQUIRED = "attention required"
    COVER_OPEN = "cover open"
    MEDIA_JAM = "media jam"
    MULTIPLE_FEED_ERROR = "multiple feed error"
    LAMP_ERROR = "lamp error"
    LAMP_WARMING = "lamp warming"
    CALIBRATING = "calibrating"
    INTERLOCK_OPEN = "interlock open"
    INTERNAL_STORAGE_FULL = "internal storage full"
    PAUSED = "paused"


class ConditionName(enum.Enum):
    """What a device condition is about."""

    CALIBRATING = "calibrating"
    COVER_OPEN = "cover open"
    INPUT_TRAY_EMPTY = "input tray empty"
    INTERLOCK_OPEN = "interlock open"
    INTERNAL_STORAGE_FULL = "internal storage full"
    MEDIA_JAM = "media jam"
    LAMP_ERROR = "lamp error"
    LAMP_WARNING = "lamp warning"
    MULTIPLE_FEED_ERROR = "multiple feed error"


class ConditionComponent(enum.Enum):
    ADF = "feeder"
    FILM = "film"
    MEDIA_PATH = "media path"
    PLATEN = "platen"


class ConditionSeverity(enum.Enum):
    INFORMATIONAL = "informational"
    WARNING = "warning"
    CRITICAL = "critical"


def words(values) -> str:
    """Enum values as a comma-separated list, for logs and pages."""
    return ", ".join(v.value for v in values)


CONTENT_TYPES = ("Auto", "Text", "Photo", "Halftone", "Mixed")


@dataclass(frozen=True)
class Requested(Generic[T]):
    """A ticket value and whether the client insists on it (MustHonor)."""

    value: T
    must_honor: bool = False


@dataclass(frozen=True)
class Used(Generic[T]):
    """A value the scanner really uses, and why it may differ from the request."""

    value: T
    override: bool = False
    used_default: bool = False


@dataclass(frozen=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True)
class Region:
    x_offset: int
    y_offset: int
    width: int
    height: int


@dataclass(frozen=True)
class RequestedRegion:
    x_offset: Requested[int] | None = None
    y_offset: Requested[int] | None = None
    width: Requested[int] | None = None
    height: Requested[int] | None = None


@dataclass(frozen=True)
class RequestedSide:
    region: RequestedRegion | None = None
    color: Requested[str] | None = None
    resolution: Requested[Size] | None = None


@dataclass(frozen=True)
class DocumentParameters:
    """What a client asked for: every field optional, unknown values kept as strings."""

    format: Requested[str] | None = None
    compression_quality: Requested[int] | None = None
    images_to_transfer: Requested[int] | None = None
    input_source: Requested[str] | None = None
    content_type: Requested[str] | None = None
    input_size: Requested[Size] | None = None
    auto_detect_size: bool = False
    auto_exposure: Requested[bool] | None = None
    brightness: Requested[int] | None = None
    contrast: Requested[int] | None = None
    sharpness: Requested[int] | None = None
    scaling: Requested[Size] | None = None
    rotation: Requested[int] | None = None
    front: RequestedSide | None = None
    back: RequestedSide | None = None


@dataclass(frozen=True)
class JobDescription:
    name: str = "Scan"
    user: str = ""
    information: str | None = None


@dataclass(frozen=True)
class ScanTicket:
    description: JobDescription = JobDescription()
    parameters: DocumentParameters = DocumentParameters()


@dataclass(frozen=True)
class UsedSide:
    region: Region
    color: ColorMode
    resolution: Size
    region_override: bool = False
    color_override: bool = False
    resolution_override: bool = False
    region_default: bool = False
    color_default: bool = False
    resolution_default: bool = False


@dataclass(frozen=True)
class FinalParameters:
    """DocumentFinalParameters: what a job really does."""

    format: Used[str]
    compression_quality: Used[int]
    images_to_transfer: Used[int]
    input_source: Used[InputSource]
    content_type: Used[str]
    input_size: Size
    brightness: Used[int]
    contrast: Used[int]
    sharpness: Used[int]
    scaling: Used[Size]
    rotation: Used[int]
    front: UsedSide
    back: UsedSide | None = None


@dataclass(frozen=True)
class PixelWindow:
    """A rectangle of pixels: where the ticket's image lies, on the page or in a scanned frame."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class ImageInfo:
    pixels_per_line: int
    lines: int
    bytes_per_line: int


@dataclass(frozen=True)
class ImageInformation:
    front: ImageInfo
    back: ImageInfo | None = None


@dataclass(frozen=True)
class ImageFormat:
    """A file format as the scanner core needs to know it (the imaging table, handed over by ``app.py``)."""

    name: str
    content_type: str
    lossless: bool
    multi_page: bool
    """One file holds every image of a job."""
    colors: frozenset[ColorMode]
    """The colour modes a file of this format can hold."""
    row_bytes: Callable[[int, ColorMode], int] = field(compare=False, repr=False)
    """(pixels per line, colour) -> BytesPerLine: the size of a stored row, 0 when rows are coded."""

    def holds(self, color: ColorMode) -> bool:
        return color in self.colors


@dataclass(frozen=True)
class FormatTable:
    """The formats the scanner may write, in order of preference (the first is the default)."""

    formats: tuple[ImageFormat, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.formats)

    def get(self, name: str) -> ImageFormat | None:
        return next((f for f in self.formats if f.name == name), None)

    def __getitem__(self, name: str) -> ImageFormat:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found


@dataclass(frozen=True)
class SourceCapabilities:
    """One input (platen, feeder front or back): what a ticket may ask of it."""

    colors: tuple[ColorMode, ...]
    min_size: Size
    max_size: Size
    optical_resolution: Size
    resolutions_x: tuple[int, ...]
    resolutions_y: tuple[int, ...]
    scan_area: tuple[float, float] | None = None
    """The exact width and height of the scan area in thousandths of an inch (max_size is them cut to
    whole thousandths): how many whole pixels a resolution gives. None: max_size is exact."""


@dataclass(frozen=True)
class Capabilities:
    """ScannerDescription and ScannerConfiguration, in typed form."""

    name: str
    info: str
    location: str
    formats: tuple[str, ...]
    platen: SourceCapabilities | None
    adf_front: SourceCapabilities | None
    adf_back: SourceCapabilities | None
    brightness: bool
    contrast: bool
    content_types: tuple[str, ...] = CONTENT_TYPES
    auto_detect_size: bool = False
    auto_exposure: bool = False
    rotations: tuple[int, ...] = (0,)
    quality_range: tuple[int, int] = (1, 100)

    @property
    def duplex(self) -> bool:
        return self.adf_back is not None

    def source(self, source: InputSource) -> SourceCapabilities | None:
        return {
            InputSource.PLATEN: self.platen,
            InputSource.ADF: self.adf_front,
            InputSource.ADF_DUPLEX: self.adf_front if self.adf_back else None,
        }.get(source)

    def sources(self) -> tuple[InputSource, ...]:
        found = [s for s in (InputSource.PLATEN, InputSource.ADF, InputSource.ADF_DUPLEX) if self.source(s)]
        return tuple(found)


@dataclass(frozen=True)
class Condition:
    """An active device condition (DeviceCondition): jam, cover open, feeder empty."""

    id: int
    name: ConditionName
    component: ConditionComponent
    severity: ConditionSeverity
    time: datetime


@dataclass(frozen=True)
class ScannerStatus:
    time: datetime
    state: ScannerState
    reasons: tuple[ScannerStateReason, ...] = ()
    conditions: tuple[Condition, ...] = ()
    history: tuple[tuple[Condition, datetime], ...] = ()


@dataclass(frozen=True)
class JobView:
    """A job as front ends see it: read it, never change it (``scanner/jobs.py`` owns the job)."""

    id: int
    token: str = field(repr=False)
    """What a client shows to retrieve the job's images: give it only to the client that created the job."""
    owner: str | None
    state: JobState
    reasons: tuple[JobStateReason, ...]
    images_done: int
    feeder_empty: bool
    """The feeder ran out of paper (or one multi-page file took every page it had)."""
    more_images: bool
    """A next document may still be retrieved."""
    created: datetime
    completed: datetime | None
    ticket: ScanTicket
    final: FinalParameters
    image_info: ImageInformation
    documents: tuple[str, ...] = ()
    """The name of each image retrieved so far."""


@dataclass(frozen=True)
class ScannerIdentity:
    """What a scanner is, for as long as it is served."""

    uuid: str
    """Stable across restarts (kept in the state directory)."""
    device: str
    """The SANE device name."""
    vendor: str
    model: str
    serial: str
    """The best identification of the physical device there is (USB ids and serial, else the SANE name)."""


class ErrorKind(enum.Enum):
    """Why the scanner core refused a request; each front end maps every kind to its own answer
    (a SOAP fault for WSD, an HTTP status for eSCL)."""

    CONFLICT = "conflict"
    """Values the client insists on (MustHonor) that this scanner cannot honour."""
    FORMAT = "format"
    """A file format that is not offered, or cannot hold the colour the client insists on."""
    INVALID = "invalid"
    """Malformed or out-of-range values."""
    NO_IMAGES = "no-images"
    """The job has no more images (the feeder is empty, or every image was delivered)."""
    BUSY = "busy"
    """The scanner is busy with another job, or an image of this job is being delivered."""
    NOT_FOUND = "not-found"
    """No such job (or not one of this client's)."""
    BAD_TOKEN = "bad-token"
    """The job token does not belong to the job."""
    CANCELLED = "cancelled"
    """The job was cancelled."""
    DEVICE = "device"
    """The scanner failed or does not answer."""


class ServiceError(Exception):
    """A request the scanner cannot serve; ``kind`` says why, ``reason`` says it in words."""

    def __init__(self, kind: ErrorKind, reason: str):
        super().__init__(reason)
        self.kind = ErrorKind(kind)
        self.reason = reason


class TicketRejected(ServiceError):
    """A ticket that cannot be scanned as asked."""


class JobError(ServiceError):
    """A job request that does not fit the job's state, id or token."""

