"""One SANE scanner on the reactor side: what every front end calls (``scanner_api.ScannerCore``).

Methods run on the reactor and return at once or with a Deferred; SANE work
goes to the device's own thread (``session.py``), job state to the job table
(``jobs.py``), conditions to the status tracker. The image path is injected
(``DocumentOpener``) and the format table handed in, so that this layer
knows nothing of file formats, HTTP or any protocol.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from typing import Callable

from twisted.internet import defer
from twisted.logger import Logger

from gateway.model import (
    Capabilities, ErrorKind, FinalParameters, FormatTable, ImageInfo, ImageInformation, JobError, JobState,
    JobView, ScannerIdentity, ScannerStatus, ScanTicket, ServiceError, Size, UsedSide, words,
)
from gateway.pipe import PipeClosed, ThreadPipe
from gateway.scanner.capabilities import DeviceProfile, read_capabilities
from gateway.scanner.inventory import ServedDevice
from gateway.scanner.jobs import RETRIEVE_TIMEOUT, Failure, Job, JobTable
from gateway.scanner.saneapi import SaneError, SaneLibrary, Status
from gateway.scanner.buttons import read_sensors
from gateway.scanner.session import (
    DEVICE_TIMEOUT, DeviceSession, DocumentOpener, DocumentPlan, DocumentResult,
)
from gateway.scanner.status import StatusTracker
from gateway.scanner.ticket import default_parameters, image_window, negotiate, settle
from gateway.scanner.watchdog import Watchdog
from gateway.scanner_api import ImageStream, ScannerListener

log = Logger()


def predicted_info(side: UsedSide, row_bytes: Callable[[int, UsedSide], int], size: Size | None = None) -> ImageInfo:
    """ImageInfo of the ticket's image (``size``: the pixels the device will really deliver)."""
    if size is None:
        window = image_window(side)
        size = Size(window.width, window.height)
    return ImageInfo(size.width, size.height, row_bytes(size.width, side))


def feeder_ran_empty(error: BaseException, job: Job) -> bool:
    """An empty feeder ends the job well after its first image, or for a feeder job at once."""
    return isinstance(error, SaneError) and error.status is Status.NO_DOCS and (
        job.images_done > 0 or not job.from_platen)


def scan_failure(error: BaseException, failure, job: Job, scanner: str, status: StatusTracker) -> Failure:
    """What ended a scan, said once in the log where it is not the client's own doing; a SANE error
    becomes the scanner's condition."""
    if isinstance(error, SaneError) and error.status is Status.CANCELLED:
        # Not cancelled by a client (that job is Terminating): stopped at the scanner itself.
        return Failure.CANCELLED_AT_DEVICE
    if isinstance(error, PipeClosed):
        return Failure.TRANSFER_STOPPED
    if isinstance(error, OSError):
        # The page spools (unknown height, multi-page files, three-pass planes) live in the temporary directory.
        log.error("scan of job {job} on {scanner} failed: cannot write its temporary files in {dir}: {error}",
                  job=job.id, scanner=scanner, dir=tempfile.gettempdir(), error=error)
        return Failure.STORAGE_FULL
    if isinstance(error, SaneError):
        log.warn("scan of job {job} on {scanner} failed: {error}", job=job.id, scanner=scanner, error=error.message)
        return status.sane_error(error.status).failure
    log.failure("scan of job {job} failed", failure, job=job.id)
    return Failure.INTERNAL


def client_error(error: BaseException, job: Job) -> ServiceError:
    """What the client is told when a document could not start."""
    if job.feeder_empty:
        return JobError(ErrorKind.NO_IMAGES, "the feeder is empty")
    if job.state is JobState.CANCELED:
        return JobError(ErrorKind.CANCELLED, "the job was cancelled")
    if isinstance(error, SaneError):
        return ServiceError(ErrorKind.DEVICE, f"the scanner reports: {error.message}")
    return ServiceError(ErrorKind.DEVICE, "the scan failed")


@dataclass
class _Retrieve:
    """A document being scanned: where its bytes go, and who waits for its first rows."""

    job: Job
    pipe: ThreadPipe
    session: DeviceSession
    name: str | None
    started: defer.Deferred = field(default_factory=defer.Deferred)


class Scanner:
    """One scanner, whichever front end drives it: capabilities, status, one job at a time, its images."""

    def __init__(self, reactor, library: SaneLibrary, served: ServedDevice, *, name: str, formats: FormatTable,
                 open_document: DocumentOpener, streams_images: bool = True,
                 device_timeout: float = DEVICE_TIMEOUT, retrieve_timeout: float = RETRIEVE_TIMEOUT):
        info = served.info
        self.reactor = reactor
        self.identity = ScannerIdentity(uuid=served.uuid, device=info.name, vendor=info.vendor, model=info.model,
                                        serial=served.identity)
        self.formats = formats
        self._name = name
        self._open_document = open_document
        # Whether a document's bytes reach the client while it is scanned (else the front end spools them).
        self._streams = streams_images
        self._open_device = lambda: library.open(info)
        self.session = DeviceSession(reactor, self._open_device, info.name, device_timeout)
        self._listeners: list[ScannerListener] = []
        self.jobs = JobTable(reactor, on_change=self._job_changed, on_timeout=self._timed_out,
                             timeout=retrieve_timeout)
        self._status = StatusTracker(on_change=self._status_changed)
        self._last_status = self._status.current()
        self._capabilities: Capabilities | None = None
        self.profile: DeviceProfile | None = None
        self._retrieve: _Retrieve | None = None
        self._stopped = False
        self._watchdog = Watchdog(reactor, lambda: self.session, lambda: self._name, interrupted=self._interrupted,
                                  stuck=self._give_up)

    # ------------------------------------------------------------ what it is

    @property
    def uuid(self) -> str:
        return self.identity.uuid

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def default_parameters(self) -> FinalParameters:
        return default_parameters(self._capabilities, self.formats)

    @defer.inlineCallbacks
    def load(self):
        """Read the capabilities from the device's real options."""
        caps, profile = yield self.session.run(
            self.session.probe, lambda dev: read_capabilities(dev, self._name, self.formats.names))
        self._capabilities, self.profile = caps, profile
        return caps

    def describe(self, name: str, location: str, info: str) -> bool:
        """A new name, location or description; listeners hear of it. True when anything changed."""
        caps = replace(self._capabilities, name=name, location=location, info=info)
        if (caps, name) == (self._capabilities, self._name):
            return False
        self._name, self._capabilities = name, caps
        for listener in list(self._listeners):
            listener.description_changed()
        return True

    def listen(self, listener: ScannerListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def status(self) -> ScannerStatus:
        return self._status.current()

    # ------------------------------------------------------------ tickets and jobs

    def _image_information(self, final: FinalParameters, size: Size | None = None) -> ImageInformation:
        row_bytes = self.formats[final.format.value].row_bytes

        def bpl(ppl: int, side: UsedSide) -> int:
            return row_bytes(ppl, side.color)
        back = predicted_info(final.back, bpl, size) if final.back else None
        return ImageInformation(predicted_info(final.front, bpl, size), back)

    def negotiate(self, ticket: ScanTicket) -> FinalParameters:
        return negotiate(ticket, self._capabilities, self.formats)

    def validate(self, ticket: ScanTicket) -> tuple[FinalParameters, ImageInformation]:
        """No device access, so it never disturbs a running job."""
        final = self.negotiate(ticket)
        return final, self._image_information(final)

    @defer.inlineCallbacks
    def create_job(self, ticket: ScanTicket, owner: str | None = None):
        """Set the device up for a ticket and register the job; one at a time, from the first request on."""
        self.jobs.begin_setup()
        try:
            final = self.negotiate(ticket)
            setup = yield self.session.run(self.session.set_up, final, self.profile).addTimeout(
                2 * self.session.device_timeout, self.reactor)
            p = setup.applied.parameters
            settled = settle(final, ticket, setup.window, setup.placement, p.pixels_per_line, p.lines)
        except SaneError as e:
            self.jobs.setup_failed()
            yield self.session.run(self.session.release)
            self._status.sane_error(e.status)
            raise ServiceError(ErrorKind.DEVICE, f"the scanner reports: {e.message}") from None
        except ServiceError:
            self.jobs.setup_failed()
            yield self.session.run(self.session.release)
            raise
        except defer.TimeoutError:  # the device thread is stuck (the watchdog gives it up)
            self.jobs.setup_failed()
            raise ServiceError(ErrorKind.DEVICE, "the scanner does not answer") from None
        except BaseException:
            self.jobs.setup_failed()
            raise
        final = settled.final
        job = self.jobs.create(ticket, final, self._image_information(final, settled.image), settled.crop, owner)
        log.info("job {job} created on {scanner}: {source} {color} {dpi} dpi {fmt}", job=job.id, scanner=self._name,
                 source=final.input_source.value.value, color=final.front.color.value,
                 dpi=final.front.resolution.width, fmt=final.format.value)
        return job.view()

    def next_document(self, job_id: int, token: str, name: str | None = None) -> defer.Deferred:
        """Start the job's next document (every image, for a multi-page format): an ImageStream once the
        scanner delivers rows, or the ServiceError the client is to be told."""
        job = self.jobs.for_retrieve(job_id, token)
        plan = DocumentPlan(job.final, job.crop, job.images_done, job.images_wanted)
        self.jobs.retrieve_started(job, streaming=self._streams)
        self._status.busy(True)
        retrieve = _Retrieve(job, ThreadPipe(self.reactor), self.session, name)
        self._retrieve = retrieve

        def first_rows():
            self.reactor.callFromThread(self._first_rows, retrieve)
        d = retrieve.session.run(retrieve.session.scan_document, plan, self._open_document, retrieve.pipe, first_rows)
        d.addCallbacks(self._scanned, self._failed, callbackArgs=(retrieve,), errbackArgs=(retrieve,))
        return retrieve.started

    def _first_rows(self, retrieve: _Retrieve) -> None:
        if retrieve.started.called:
            return  # given up by the watchdog before its first rows came
        name = self.jobs.document_named(retrieve.job, retrieve.name)
        self._status.page_started()
        content_type = self.formats[retrieve.job.final.format.value].content_type
        retrieve.started.callback(ImageStream(content_type, retrieve.pipe, retrieve.job.view(), name))

    def _scanned(self, result: DocumentResult, retrieve: _Retrieve) -> None:
        if self._stopped:
            return retrieve.pipe.close(None)
        if retrieve.session is not self.session:
            return self._abandoned_session_returned(retrieve)
        retrieve.pipe.close(None)
        self._retrieve = None
        self.jobs.retrieve_ended(retrieve.job, result.images, feeder_empty=result.feeder_empty,
                                 held_all=result.held_all)
        self._document_ended(retrieve.job)

    def _failed(self, failure, retrieve: _Retrieve) -> None:
        if self._stopped:
            return retrieve.pipe.close(None)
        if retrieve.session is not self.session:
            return self._abandoned_session_returned(retrieve)
        error = failure.value
        retrieve.pipe.close(error if isinstance(error, Exception) else Exception(str(error)))
        self._retrieve = None
        job = retrieve.job
        if job.state is JobState.TERMINATING:
            self.jobs.retrieve_failed(job, Failure.CANCELLED_AT_DEVICE)  # it ends Canceled, as asked
        elif feeder_ran_empty(error, job):
            if job.images_done == 0:
                self._status.sane_error(error.status)
            self.jobs.retrieve_ended(job, 0, feeder_empty=True)
        else:
            self.jobs.retrieve_failed(job, scan_failure(error, failure, job, self._name, self._status))
        self._document_ended(job)
        if not retrieve.started.called:
            retrieve.started.errback(client_error(error, job))

    def _document_ended(self, job: Job) -> None:
        self._status.busy(False)
        if job.state.ended:
            self.session.run(self.session.release)

    def cancel(self, job_id: int, owner: str | None = None) -> None:
        """Cancel a job; with ``owner``, only a job that owner created (JobError not-found otherwise)."""
        job = self.jobs.find(job_id, owner)
        if job.state.ended:
            raise JobError(ErrorKind.NOT_FOUND, f"job {job_id} has already ended")
        if self.jobs.cancel_requested(job):
            # The device thread is still in the scan: the job ends (Canceled) when it stops.
            self.session.request_cancel()
            if self._retrieve is not None and self._retrieve.job is job:
                self._retrieve.pipe.abort("the job was cancelled")
        elif job.state.ended:
            self.session.run(self.session.release)
        log.info("job {job} on {scanner} cancelled", job=job.id, scanner=self._name)

    def job(self, job_id: int, owner: str | None = None) -> JobView:
        return self.jobs.find(job_id, owner).view()

    def active_jobs(self) -> list[JobView]:
        return [j.view() for j in self.jobs.active]

    def job_history(self) -> list[JobView]:
        return [j.view() for j in self.jobs.history]

    # ------------------------------------------------------------ buttons and sensors

    def idle(self) -> bool:
        """No job is active or being set up: the device may be opened for a look at its sensors."""
        return not self.jobs.busy()

    def read_sensors(self) -> defer.Deferred:
        """The values of its buttons and sensors (a dict), read on the device thread."""
        return self.session.run(self.session.probe, read_sensors)

    def cover_changed(self, is_open: bool) -> None:
        self._status.cover(is_open)

    # ------------------------------------------------------------ what listeners hear

    def _job_changed(self, view: JobView) -> None:
        if view.state.ended:
            log.info("job {job} on {scanner} ended: {state} ({reasons}), {n} image(s)", job=view.id,
                     scanner=self._name, state=view.state.value, reasons=words(view.reasons), n=view.images_done)
        for listener in list(self._listeners):
            listener.job_changed(view)

    def _status_changed(self, new: ScannerStatus) -> None:
        old, self._last_status = self._last_status, new
        if (old.state, old.reasons) != (new.state, new.reasons):
            log.info("{scanner} is {state} ({reasons})", scanner=self._name, state=new.state.value,
                     reasons=words(new.reasons))
        for listener in list(self._listeners):
            listener.status_changed(old, new)

    # ------------------------------------------------------------ watchdog

    def _interrupted(self, error: SaneError) -> None:
        """The watchdog cancelled a device call that hung: the document's response ends at once."""
        if self._retrieve is not None:
            self._retrieve.pipe.abort(error.message)

    def _give_up(self, stuck: DeviceSession) -> None:
        """The device thread is stuck in SANE even after a cancel: leave it there, end its job, and let the
        next job use a fresh thread and handle."""
        log.error("{scanner} does not answer, not even a cancel: its scan is abandoned; if the next job "
                  "fails too, unplug the scanner and plug it back in", scanner=self._name)
        self.session = DeviceSession(self.reactor, self._open_device, self.identity.device, stuck.device_timeout)
        self._status.sane_error(Status.IO_ERROR)
        self._end_retrieve(Failure.NOT_ANSWERING, "the scanner stopped answering")
        self._status.busy(False)

    def _end_retrieve(self, failure: Failure, why: str) -> None:
        """End the document being scanned, and its job, now, without waiting for the device thread."""
        retrieve, self._retrieve = self._retrieve, None
        if retrieve is None:
            return
        retrieve.pipe.abort(why)
        self.jobs.abandoned(retrieve.job, failure)
        if not retrieve.started.called:
            retrieve.started.errback(ServiceError(ErrorKind.DEVICE, why))

    def _abandoned_session_returned(self, retrieve: _Retrieve) -> None:
        """A scan given up as stuck came back at last: close its handle so the scanner can be opened again."""
        session = retrieve.session
        retrieve.pipe.close(None)
        log.info("{scanner} answered again: closing the scan that was given up", scanner=self._name)
        session.run(session.release).addBoth(lambda _: session.stop())

    def _timed_out(self, job: Job) -> None:
        log.warn("job {job} on {scanner} timed out waiting for RetrieveImage", job=job.id, scanner=self._name)
        self.session.run(self.session.release)

    # ------------------------------------------------------------ the end

    def stop(self, why: str = "the gateway is stopping") -> defer.Deferred:
        """No longer served (the gateway stops, or the scanner went away): its job ends Aborted, a scan
        in progress is stopped, and the device is closed; fires once its threads have ended."""
        self._watchdog.stop()
        self._stopped = True
        self.session.request_cancel()
        self._end_retrieve(Failure.REMOVED, why)
        for job in self.jobs.active:
            self.jobs.abandoned(job, Failure.REMOVED)
        session = self.session
        return session.run(session.release).addBoth(lambda _: session.stop())
