"""One SANE scanner as the scan service sees it: capabilities, status, jobs, images.

Methods run on the reactor and return Deferreds; SANE work goes to the
device's own thread (``session.py``). The image path is injected
(``DocumentOpener``) so that this layer knows nothing of file formats or HTTP.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Callable, Protocol

from twisted.internet import defer, task
from twisted.logger import Logger

from gateway.model import (
    Capabilities, ErrorKind, FinalParameters, FormatTable, ImageInfo, ImageInformation, InputSource, JobError, JobSnapshot,
    JobState, JobStateReason, PixelWindow, ScannerStatus, ScanTicket, ServiceError, Size, UsedSide,
)
from gateway.pipe import PipeClosed, ThreadPipe
from gateway.scanner.capabilities import DeviceProfile, read_capabilities
from gateway.scanner.jobs import Job, JobTable
from gateway.scanner.saneapi import DeviceInfo, FrameParameters, SaneError, Status
from gateway.scanner.session import DEVICE_TIMEOUT, AppliedSettings, DeviceSession, PageSink
from gateway.scanner.status import StatusTracker
from gateway.scanner.ticket import (
    Placement, default_parameters, enclosing_area, image_window, negotiate, place, sane_settings, settle,
    source_profile,
)

log = Logger()

WATCH_INTERVAL = 1.0
"""Seconds between two looks of the watchdog at the device call in progress."""


class DocumentSink(Protocol):
    """One file that pages are encoded into, written to a pipe (``frames_to_files.DocumentWriter`` is one)."""

    multi_page: bool

    def page(self, side: UsedSide, params: FrameParameters, crop: PixelWindow | None) -> PageSink: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


DocumentOpener = Callable[[FinalParameters, ThreadPipe], DocumentSink]


@dataclass(frozen=True)
class ImageTransfer:
    """A page that started scanning: its bytes arrive through ``pipe``, which also says how it ended."""

    content_type: str
    pipe: ThreadPipe
    job: Job


def predicted_info(side: UsedSide, bytes_per_line: Callable[[int, UsedSide], int],
                   size: Size | None = None) -> ImageInfo:
    """ImageInfo of the ticket's image (``size``: the pixels the device will really deliver)."""
    if size is None:
        window = image_window(side)
        size = Size(window.width, window.height)
    return ImageInfo(size.width, size.height, bytes_per_line(size.width, side))


class Scanner:
    def __init__(self, reactor, library, info: DeviceInfo, *, uuid: str, name: str, formats: FormatTable,
                 open_document: DocumentOpener,
                 on_job_change: Callable[["Scanner", Job], None] = lambda s, j: None,
                 on_status_change: Callable[["Scanner"], None] = lambda s: None,
                 streams_images: bool = True,
                 device_timeout: float = DEVICE_TIMEOUT):
        self.reactor = reactor
        self.info = info
        self.uuid = uuid
        self.name = name
        self.formats = formats
        self._open_document = open_document
        self._on_job_change = on_job_change
        # Whether a page's bytes reach the client while it is scanned (else the front end spools them).
        self._scanning_reason = (JobStateReason.SCANNING_AND_TRANSFERRING if streams_images
                                 else JobStateReason.SCANNING)
        self._open_device = lambda: library.open(info)
        self.session = DeviceSession(reactor, self._open_device, info.name, device_timeout)
        self.jobs = JobTable(reactor, on_timeout=self._timed_out, on_change=lambda job: on_job_change(self, job))
        self.status = StatusTracker(on_change=lambda _s: on_status_change(self))
        self.capabilities: Capabilities | None = None
        self.profile: DeviceProfile | None = None
        self._transfer: ImageTransfer | None = None
        self._starting: defer.Deferred | None = None
        self._creating = False
        self._interrupted_at: float | None = None
        self._watchdog = task.LoopingCall(self._watch_device)
        self._watchdog.clock = reactor
        self._watchdog.start(WATCH_INTERVAL, now=False)

    @defer.inlineCallbacks
    def load(self):
        """Read the capabilities from the device's real options."""
        caps, profile = yield self.session.run(
            self.session.probe, lambda dev: read_capabilities(dev, self.name, self.formats.names))
        self.capabilities, self.profile = caps, profile
        return caps

    def stop(self) -> None:
        """Stop a scan in progress, close the device, end the device thread."""
        if self._watchdog.running:
            self._watchdog.stop()
        self.session.cancel_requested = True
        if self._transfer is not None:
            self._transfer.pipe.abort("the gateway is stopping")
        self.session.run(self.session.release)
        self.session.stop()

    @property
    def default_parameters(self) -> FinalParameters:
        return default_parameters(self.capabilities, self.formats)

    def _image_information(self, final: FinalParameters, size: Size | None = None) -> ImageInformation:
        def bpl(ppl: int, side: UsedSide) -> int:
            return self.formats[final.format.value].row_bytes(ppl, side.color)
        back = predicted_info(final.back, bpl, size) if final.back else None
        return ImageInformation(predicted_info(final.front, bpl, size), back)

    def negotiate(self, ticket: ScanTicket) -> FinalParameters:
        return negotiate(ticket, self.capabilities, self.formats)

    def validate(self, ticket: ScanTicket) -> tuple[FinalParameters, ImageInformation]:
        """ValidateScanTicket: no device access, so it never disturbs a running job."""
        final = self.negotiate(ticket)
        return final, self._image_information(final)

    @defer.inlineCallbacks
    def create_job(self, ticket: ScanTicket, owner: str | None = None):
        """Set the device up for a ticket and register the job; one at a time, from the first request on."""
        if self.jobs.busy() or self._creating:
            raise JobError(ErrorKind.BUSY, "the scanner is busy with another job")
        final = self.negotiate(ticket)
        self._creating = True
        try:
            window, applied, placement = yield self.session.run(self._apply_ticket, final).addTimeout(
                2 * self.session.device_timeout, self.reactor)
            p = applied.parameters
            settled = settle(final, ticket, window, placement, p.pixels_per_line, p.lines)
        except SaneError as e:
            yield self.session.run(self.session.release)
            self.status.sane_error(e.status)
            raise ServiceError(ErrorKind.DEVICE, f"the scanner reports: {e.message}") from None
        except ServiceError:
            yield self.session.run(self.session.release)
            raise
        except defer.TimeoutError:  # the device thread is stuck (the watchdog gives it up)
            raise ServiceError(ErrorKind.DEVICE, "the scanner does not answer") from None
        finally:
            self._creating = False
        final = settled.final
        info = self._image_information(final, settled.image)
        job = self.jobs.create(ticket, final, info, owner)
        job.window = settled.crop
        log.info("job {job} created on {scanner}: {source} {color} {dpi} dpi {fmt}", job=job.id, scanner=self.name,
                 source=final.input_source.value.value, color=final.front.color.value,
                 dpi=final.front.resolution.width, fmt=final.format.value)
        return job

    def _apply_ticket(self, final: FinalParameters) -> tuple[PixelWindow, AppliedSettings, Placement]:
        """On the device thread: set a job's options, with the smallest scan area that holds its image.

        A backend whose pixel count falls short of the area (its own rounding) gets that edge moved
        out by one of its steps, a few times at most.
        """
        side = final.front
        window = image_window(side)
        unit, geometry = self.profile.geometry_unit, source_profile(final, self.profile).geometry
        outwards = (0, 0, 0, 0)
        area = enclosing_area(window, side.resolution, unit, geometry, outwards)
        for _attempt in range(4):
            applied = self.session.apply(sane_settings(final, side, self.profile, area))
            p = applied.parameters
            placement = place(window, side.resolution, unit, applied.values, p.pixels_per_line, p.lines)
            outwards = tuple(o + s for o, s in zip(outwards, placement.short))
            wider = enclosing_area(window, side.resolution, unit, geometry, outwards)
            if wider == area:
                break
            area = wider
        return window, applied, placement

    def retrieve(self, job_id: int, token: str) -> defer.Deferred:
        """Start the next image of a job (every image, for a multi-page format).

        Fires with an ImageTransfer once the scanner delivers rows, or fails
        with the ServiceError the client is to be told.
        """
        job = self.jobs.for_retrieve(job_id, token)
        self.jobs.retrieve_started(job, self._scanning_reason)
        self.status.busy(True)
        pipe = ThreadPipe(self.reactor)
        started: defer.Deferred = defer.Deferred()
        transfer = ImageTransfer(self.formats[job.final.format.value].content_type, pipe, job)
        self._transfer = transfer
        self._starting = started
        session = self.session

        def transferred(result):
            if session is not self.session:
                return self._abandoned_session_returned(session, pipe)
            images, last = result
            pipe.close(None)
            job.no_more_images = job.no_more_images or last
            self._transfer_ended(job, images, None)

        def failed(failure):
            if session is not self.session:
                return self._abandoned_session_returned(session, pipe)
            error = failure.value
            pipe.close(error if isinstance(error, Exception) else Exception(str(error)))
            self._transfer_ended(job, 0, failure)
            if not started.called:
                started.errback(self._service_error(error, job))

        first_page = lambda: self.reactor.callFromThread(self._transfer_started, transfer, started)  # noqa: E731
        session.run(self._scan_document, session, job, pipe, first_page).addCallbacks(transferred, failed)
        return started

    def _scan_document(self, session: DeviceSession, job: Job, pipe: ThreadPipe,
                       first_page: Callable[[], None]) -> tuple[int, bool]:
        """On the device thread: the pages of one RetrieveImage into one document.

        Returns (images scanned, whether the job has no more images: the
        feeder ran empty, or the document was multi-page and holds them all).
        """
        document = self._open_document(job.final, pipe)
        images, feeder_empty = 0, False
        try:
            while True:
                n = job.scans_completed + images
                side = job.final.back if job.final.back is not None and n % 2 == 1 else job.final.front

                def open_page(params: FrameParameters, side=side) -> PageSink:
                    sink = document.page(side, params, job.window)
                    if images == 0:
                        first_page()
                    return sink
                try:
                    session.scan_page(open_page)
                except SaneError as e:
                    if e.status is Status.NO_DOCS and images > 0:
                        feeder_empty = True
                        break
                    raise
                images += 1
                wanted = job.images_wanted
                if not document.multi_page or (wanted and job.scans_completed + images >= wanted):
                    break
                if job.final.input_source.value is InputSource.PLATEN:
                    break
            document.finish()
        except BaseException:
            document.abort()
            raise
        return images, feeder_empty or document.multi_page

    def _service_error(self, error: BaseException, job: Job) -> ServiceError:
        """What the client is told when a page could not start."""
        if job.no_more_images:
            return JobError(ErrorKind.NO_IMAGES, "the feeder is empty")
        if job.state is JobState.CANCELED:
            return JobError(ErrorKind.CANCELLED, "the job was cancelled")
        if isinstance(error, SaneError):
            return ServiceError(ErrorKind.DEVICE, f"the scanner reports: {error.message}")
        return ServiceError(ErrorKind.DEVICE, "the scan failed")

    def scanner_status(self) -> ScannerStatus:
        return self.status.current()

    def job_snapshot(self, job_id: int) -> JobSnapshot:
        return self.jobs.find(job_id).snapshot()

    def active_jobs(self) -> list[JobSnapshot]:
        return [j.snapshot() for j in self.jobs.active]

    def job_history(self) -> list[JobSnapshot]:
        return [j.snapshot() for j in self.jobs.history]

    def _transfer_started(self, transfer: ImageTransfer, started: defer.Deferred) -> None:
        if started.called:
            return  # given up by the watchdog before its first rows came
        self.status.page_started()
        started.callback(transfer)

    def _transfer_ended(self, job: Job, images: int, failure) -> None:
        self._transfer = None
        error = failure.value if failure is not None else None
        if job.state is JobState.TERMINATING:
            job.retrieving = False
            self.jobs.end(job, JobState.CANCELED, (JobStateReason.NONE,))
        elif error is None:
            self.jobs.retrieve_finished(job, images)
        elif isinstance(error, SaneError) and error.status is Status.NO_DOCS and (
                job.scans_completed > 0 or job.final.input_source.value is not InputSource.PLATEN):
            job.no_more_images = True
            if job.scans_completed == 0:
                self.status.sane_error(error.status)
            self.jobs.retrieve_finished(job, 0)
        elif isinstance(error, SaneError) and error.status is Status.CANCELLED or job.state.ended:
            job.retrieving = False
            # Not cancelled through CancelJob (that job is Terminating): stopped at the scanner itself.
            self.jobs.end(job, JobState.CANCELED, (JobStateReason.CANCELED_AT_DEVICE,))
        elif isinstance(error, PipeClosed):
            job.retrieving = False
            # The schema has no reason for a failed transfer: the job ended with an error.
            self.jobs.end(job, JobState.ABORTED, (JobStateReason.COMPLETED_WITH_ERRORS,))
        elif isinstance(error, OSError):
            # The page spools (unknown height, multi-page files, three-pass planes) live in the temporary directory.
            job.retrieving = False
            log.error("scan of job {job} on {scanner} failed: cannot write its temporary files in {dir}: {error}",
                      job=job.id, scanner=self.name, dir=tempfile.gettempdir(), error=error)
            self.jobs.end(job, JobState.ABORTED, (JobStateReason.COMPLETED_WITH_ERRORS,))
        else:
            job.retrieving = False
            reason = JobStateReason.COMPLETED_WITH_ERRORS
            if isinstance(error, SaneError):
                reason = self.status.sane_error(error.status).job_reason
                log.warn("scan of job {job} on {scanner} failed: {error}", job=job.id, scanner=self.name,
                         error=error.message)
            else:
                log.failure("scan of job {job} failed", failure, job=job.id)
            self.jobs.end(job, JobState.ABORTED, (reason,))
        self.status.busy(False)
        if job.state.ended:
            self.session.run(self.session.release)

    def cancel(self, job_id: int, owner: str | None = None) -> None:
        """Cancel a job; with ``owner``, only a job that owner created (JobError not-found otherwise)."""
        job = self.jobs.find(job_id, owner)
        if job.state.ended:
            raise JobError(ErrorKind.NOT_FOUND, f"job {job_id} has already ended")
        if job.retrieving:
            # The device thread is still in the scan: the job ends (Canceled) when it stops.
            self.session.cancel_requested = True
            if self._transfer is not None and self._transfer.job is job:
                self._transfer.pipe.abort("the job was cancelled")
            self.jobs.set_state(job, JobState.TERMINATING, (JobStateReason.NONE,))
        elif job.state is not JobState.TERMINATING:
            self.jobs.end(job, JobState.CANCELED, (JobStateReason.NONE,))
            self.session.run(self.session.release)
        log.info("job {job} on {scanner} cancelled", job=job.id, scanner=self.name)

    def _watch_device(self) -> None:
        """Once a second: a device call of a scan that takes longer than the device timeout is cancelled,
        and a scanner that does not answer the cancel either is given up (the next job opens it afresh)."""
        session = self.session
        waited = session.waiting_for()
        if self._interrupted_at is None:
            if waited > session.device_timeout:
                error = SaneError(Status.IO_ERROR, f"the scanner sent nothing for over {session.device_timeout:g} s")
                log.warn("{scanner}: {error}; cancelling its scan", scanner=self.name, error=error.message)
                self._interrupted_at = self.reactor.seconds()
                session.interrupt(error)
                if self._transfer is not None:
                    self._transfer.pipe.abort(error.message)
        elif waited == 0:
            self._interrupted_at = None
        elif self.reactor.seconds() - self._interrupted_at > session.device_timeout:
            self._interrupted_at = None
            self._give_up(session)

    def _give_up(self, stuck: DeviceSession) -> None:
        """The device thread is stuck in SANE even after a cancel: leave it there, end its job, and let the
        next job use a fresh thread and handle."""
        log.error("{scanner} does not answer, not even a cancel: its scan is abandoned; if the next job "
                  "fails too, unplug the scanner and plug it back in", scanner=self.name)
        self.session = DeviceSession(self.reactor, self._open_device, self.info.name, stuck.device_timeout)
        transfer, self._transfer = self._transfer, None
        self.status.sane_error(Status.IO_ERROR)
        if transfer is not None:
            job = transfer.job
            transfer.pipe.abort("the scanner stopped answering")
            job.retrieving = False
            self.jobs.end(job, JobState.ABORTED, (JobStateReason.SCANNER_STOPPED,))
            if self._starting is not None and not self._starting.called:
                self._starting.errback(ServiceError(ErrorKind.DEVICE, "the scanner stopped answering"))
        self.status.busy(False)

    def _abandoned_session_returned(self, session: DeviceSession, pipe: ThreadPipe) -> None:
        """A scan given up as stuck came back at last: close its handle so the scanner can be opened again."""
        pipe.close(None)
        log.info("{scanner} answered again: closing the scan that was given up", scanner=self.name)
        session.run(session.release).addBoth(lambda _: session.stop())

    def _timed_out(self, job: Job) -> None:
        log.warn("job {job} on {scanner} timed out waiting for RetrieveImage", job=job.id, scanner=self.name)
        self.session.run(self.session.release)
