"""ScannerStatus, ScanImageInfo and ScanBufferInfo: a scanner's state, its feeder, its jobs and their images,
as eSCL clients read them.

Clients act on these values: sane-airscan retries on Idle or Processing and
gives up otherwise; NAPS2 starts no job unless the state is Idle and the
feeder neither Empty nor jammed; Windows treats a feeder said to be loaded as
one to scan from. So the feeder state says what the scanner last found, never
a guess that sends a client to an empty tray.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree

from gateway.escl import namespaces as ns
from gateway.escl.xml import sub
from gateway.model import (
    ColorMode, ConditionName, ImageInfo, JobView, JobState, JobStateReason, ScannerState, ScannerStatus,
)


class AdfState(enum.StrEnum):
    """scan:AdfState keywords we report (sane-airscan 0.99.27 knows exactly these)."""

    LOADED = "ScannerAdfLoaded"
    EMPTY = "ScannerAdfEmpty"
    JAM = "ScannerAdfJam"
    DOOR_OPEN = "ScannerAdfDoorOpen"
    PROCESSING = "ScannerAdfProcessing"


SCANNER_STATES = {ScannerState.IDLE: "Idle", ScannerState.PROCESSING: "Processing",
                  ScannerState.STOPPED: "Stopped"}
JOB_STATES = {
    JobState.PENDING: "Pending", JobState.STARTED: "Processing", JobState.PROCESSING: "Processing",
    JobState.TERMINATING: "Processing", JobState.COMPLETED: "Completed", JobState.ABORTED: "Aborted",
    JobState.CANCELED: "Canceled",
}
JOB_STATE_REASONS = {
    JobStateReason.SCANNING: "JobScanning",
    JobStateReason.SCANNING_AND_TRANSFERRING: "JobScanning",
    JobStateReason.TRANSFERRING: "JobTransferring",
    JobStateReason.COMPLETED_SUCCESSFULLY: "JobCompletedSuccessfully",
    JobStateReason.COMPLETED_WITH_ERRORS: "JobCompletedWithErrors",
    JobStateReason.COMPLETED_WITH_WARNINGS: "JobCompletedWithWarnings",
    JobStateReason.CANCELED_AT_DEVICE: "JobCanceledAtDevice",
    JobStateReason.TIMED_OUT: "AbortedBySystem",
    JobStateReason.SCANNER_STOPPED: "AbortedBySystem",
    JobStateReason.SCANNER_REMOVED: "AbortedBySystem",
    JobStateReason.COMPRESSION_ERROR: "CompressionError",
    JobStateReason.DOCUMENT_FORMAT_ERROR: "DocumentFormatError",
    JobStateReason.INVALID_SCAN_TICKET: "InvalidScanTicket",
}
"""The core's reasons -> PWG job-state-reason keywords (NONE says nothing and is left out)."""
CANCELED_BY_CLIENT = "JobCanceledByUser"
"""What a job cancelled without a reason of the scanner's was: an eSCL DELETE, a WSD CancelJob."""


@dataclass(frozen=True)
class JobEntry:
    """A job as eSCL names it: its URI path (``/eSCL/ScanJobs/<id>``), its UUID, and the core's view of it."""

    uri: str
    uuid: str
    job: JobView


def adf_state(status: ScannerStatus, feeder_empty: bool = False) -> AdfState:
    """The feeder's state: a jam or an open cover as the scanner's conditions say; Empty only while the active
    job found the feeder empty (``feeder_empty``); else Loaded. We cannot sense paper, so a tray refilled after
    a batch is never called empty (NAPS2 would refuse to start the next job), and Processing is never said
    (sane-airscan reads it as "no documents")."""
    names = {c.name for c in status.conditions}
    if ConditionName.MEDIA_JAM in names or ConditionName.MULTIPLE_FEED_ERROR in names:
        return AdfState.JAM
    if ConditionName.COVER_OPEN in names:
        return AdfState.DOOR_OPEN
    return AdfState.EMPTY if feeder_empty else AdfState.LOADED


def scanner_state(status: ScannerStatus, job_active: bool) -> str:
    """pwg:State: Processing while a job is active, Idle otherwise, Stopped only when the scanner cannot be
    used at all (it failed or stopped answering). A jam or an open cover is said in AdfState, not here:
    NAPS2 starts no job on a scanner that is not Idle, and a new job is what clears the jam."""
    unusable = status.state is ScannerState.STOPPED and not any(
        c.name in (ConditionName.MEDIA_JAM, ConditionName.MULTIPLE_FEED_ERROR, ConditionName.COVER_OPEN,
                   ConditionName.INPUT_TRAY_EMPTY) for c in status.conditions)
    if unusable:
        return SCANNER_STATES[ScannerState.STOPPED]
    return SCANNER_STATES[ScannerState.PROCESSING if job_active else ScannerState.IDLE]


def job_reasons(job: JobView) -> tuple[str, ...]:
    reasons = tuple(dict.fromkeys(JOB_STATE_REASONS[r] for r in job.reasons if r in JOB_STATE_REASONS))
    if job.state is JobState.CANCELED and not reasons:
        return (CANCELED_BY_CLIENT,)
    return reasons


def _age(job: JobView, now: datetime) -> int:
    return max(0, int((now - job.created).total_seconds()))


def _job_info(parent: etree._Element, entry: JobEntry, now: datetime) -> None:
    job = entry.job
    info = sub(parent, ns.scan("JobInfo"))
    sub(info, ns.pwg("JobUri"), entry.uri)
    sub(info, ns.pwg("JobUuid"), entry.uuid)
    sub(info, ns.scan("Age"), _age(job, now))
    sub(info, ns.pwg("ImagesCompleted"), job.images_done)
    sub(info, ns.pwg("ImagesToTransfer"), 0 if job.state.ended else 1)
    sub(info, ns.pwg("JobState"), JOB_STATES[job.state])
    reasons = sub(info, ns.pwg("JobStateReasons"))
    for reason in job_reasons(job):
        sub(reasons, ns.pwg("JobStateReason"), reason)


def scanner_status(status: ScannerStatus, jobs: Sequence[JobEntry] = (), adf: AdfState | None = None,
                   now: datetime | None = None, state: str | None = None) -> etree._Element:
    """The ``scan:ScannerStatus`` document. ``adf`` only for a scanner with a feeder; ``jobs`` newest first;
    ``state`` the pwg:State (``scanner_state``), else the core's state word."""
    now = now or datetime.now(timezone.utc)
    root = etree.Element(ns.scan("ScannerStatus"), nsmap=ns.NSMAP)
    sub(root, ns.pwg("Version"), ns.VERSION)
    sub(root, ns.pwg("State"), state or SCANNER_STATES[status.state])
    if adf is not None:
        sub(root, ns.scan("AdfState"), adf)
    if jobs:
        container = sub(root, ns.scan("Jobs"))
        for entry in jobs:
            _job_info(container, entry, now)
    return root


def scan_image_info(entry: JobEntry, image: ImageInfo) -> etree._Element:
    """The ``scan:ScanImageInfo`` of the image a job delivered last."""
    root = etree.Element(ns.scan("ScanImageInfo"), nsmap=ns.NSMAP)
    sub(root, ns.pwg("JobUri"), entry.uri)
    sub(root, ns.pwg("JobUuid"), entry.uuid)
    sub(root, ns.scan("ActualWidth"), image.pixels_per_line)
    sub(root, ns.scan("ActualHeight"), image.lines)
    sub(root, ns.scan("ActualBytesPerLine"), image.bytes_per_line)
    return root


def raw_bytes_per_line(pixels: int, color: ColorMode) -> int:
    """The bytes of one uncompressed row: what a client sizes its buffers by, whatever the file format."""
    return (pixels * color.channels * color.depth + 7) // 8


def scan_buffer_info(settings: etree._Element, image: ImageInfo, color: ColorMode) -> etree._Element:
    """The ``scan:ScanBufferInfo`` answer to a PUT of ScanSettings: the settings back, and the image they give."""
    root = etree.Element(ns.scan("ScanBufferInfo"), nsmap=ns.NSMAP)
    echoed = etree.SubElement(root, ns.scan("ScanSettings"))
    for child in settings:
        if isinstance(child.tag, str):
            echoed.append(copy.deepcopy(child))
    sub(root, ns.scan("ImageWidth"), image.pixels_per_line)
    sub(root, ns.scan("ImageHeight"), image.lines)
    sub(root, ns.scan("BytesPerLine"), raw_bytes_per_line(image.pixels_per_line, color))
    return root
