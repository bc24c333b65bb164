"""THE job state machine: ids, tokens, states, reasons, the retrieve deadline, history.

Every job state and every transition is here, and nothing outside this
module writes a job: the scanner (``device.py``) reports what happened as
events, the table moves the job, and listeners (front ends, the status page)
are handed a read-only ``JobView`` of every change. It knows nothing of SANE,
threads or any protocol; the states and reasons are the model's words.

Events and the transitions they make (``TRANSITIONS`` is the same table,
and every move is checked against it)::

    event                    from                   to            reasons
    created                  -                      Pending       none
    retrieve_started         Pending, Started       Processing    scanning [and transferring]
    document_named           Processing             -             (the image gets its name)
    retrieve_ended           Processing             Started       none           (more images to come)
                             Processing             Completed     completed successfully
                                                                  (the last image, the feeder ran empty,
                                                                  or one file held them all)
                             Terminating            Canceled      none
    retrieve_failed(cause)   Processing             Aborted       the cause's (FAILURES)
                             Processing             Canceled      cancelled at the scanner
                             Terminating            Canceled      none
    cancel_requested         Pending, Started       Canceled      none
                             Processing             Terminating   none  (the scan is stopped; its end
                                                                  arrives as retrieve_ended/failed)
    timed_out                Pending, Started       Aborted       timed out (no retrieve in time)
    abandoned(cause)         Pending, Started,      Aborted       the cause's (the scanner stopped
                             Processing,                          answering, or went away)
                             Terminating

Completed, Aborted and Canceled are the end: an event for a job that has
ended changes nothing (a scan the watchdog gave up on may come back later).
At most one job is active per scanner, whichever front end asks
(``begin_setup``): a second is refused as busy.
"""

from __future__ import annotations

import collections
import enum
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from gateway.model import (
    ErrorKind, FinalParameters, ImageInformation, InputSource, JobError, JobState, JobStateReason, JobView,
    PixelWindow, ScanTicket,
)

RETRIEVE_TIMEOUT = 60.0
"""Seconds a client has for its next RetrieveImage before the job is aborted (timed out)."""
HISTORY_SIZE = 20
MAX_JOB_ID = 2**31 - 1


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Event(enum.Enum):
    CREATED = "created"
    RETRIEVE_STARTED = "retrieve started"
    RETRIEVE_ENDED = "retrieve ended"
    RETRIEVE_FAILED = "retrieve failed"
    CANCEL_REQUESTED = "cancel requested"
    TIMED_OUT = "timed out"
    ABANDONED = "abandoned"


class Failure(enum.Enum):
    """Why a scan ended before its image was complete, as the scanner tells the table."""

    DEVICE_ERROR = "the scanner reported an error (jam, cover open)"
    DEVICE_STOPPED = "the scanner stopped (I/O error, busy, access denied)"
    CANCELLED_AT_DEVICE = "the scanner itself cancelled the scan"
    TRANSFER_STOPPED = "the image could not be delivered (the client left or took nothing)"
    STORAGE_FULL = "the temporary files could not be written"
    INTERNAL = "an internal error"
    NOT_ANSWERING = "the scanner stopped answering"
    REMOVED = "the scanner went away"


_S, _R = JobState, JobStateReason
FAILURES: dict[Failure, tuple[JobState, JobStateReason]] = {
    Failure.DEVICE_ERROR: (_S.ABORTED, _R.COMPLETED_WITH_ERRORS),
    Failure.DEVICE_STOPPED: (_S.ABORTED, _R.SCANNER_STOPPED),
    Failure.CANCELLED_AT_DEVICE: (_S.CANCELED, _R.CANCELED_AT_DEVICE),
    Failure.TRANSFER_STOPPED: (_S.ABORTED, _R.COMPLETED_WITH_ERRORS),
    Failure.STORAGE_FULL: (_S.ABORTED, _R.COMPLETED_WITH_ERRORS),
    Failure.INTERNAL: (_S.ABORTED, _R.COMPLETED_WITH_ERRORS),
    Failure.NOT_ANSWERING: (_S.ABORTED, _R.SCANNER_STOPPED),
    Failure.REMOVED: (_S.ABORTED, _R.SCANNER_REMOVED),
}
"""The state and reason a job ends with, for each way a scan can fail."""

_ACTIVE = (_S.PENDING, _S.STARTED, _S.PROCESSING, _S.TERMINATING)
TRANSITIONS: dict[tuple[Event, JobState], frozenset[JobState]] = {
    (Event.RETRIEVE_STARTED, _S.PENDING): frozenset({_S.PROCESSING}),
    (Event.RETRIEVE_STARTED, _S.STARTED): frozenset({_S.PROCESSING}),
    (Event.RETRIEVE_ENDED, _S.PROCESSING): frozenset({_S.STARTED, _S.COMPLETED}),
    (Event.RETRIEVE_ENDED, _S.TERMINATING): frozenset({_S.CANCELED}),
    (Event.RETRIEVE_FAILED, _S.PROCESSING): frozenset({_S.ABORTED, _S.CANCELED}),
    (Event.RETRIEVE_FAILED, _S.TERMINATING): frozenset({_S.CANCELED}),
    (Event.CANCEL_REQUESTED, _S.PENDING): frozenset({_S.CANCELED}),
    (Event.CANCEL_REQUESTED, _S.STARTED): frozenset({_S.CANCELED}),
    (Event.CANCEL_REQUESTED, _S.PROCESSING): frozenset({_S.TERMINATING}),
    (Event.TIMED_OUT, _S.PENDING): frozenset({_S.ABORTED}),
    (Event.TIMED_OUT, _S.STARTED): frozenset({_S.ABORTED}),
    **{(Event.ABANDONED, s): frozenset({_S.ABORTED}) for s in _ACTIVE},
}
"""(event, state) -> the states that event may move a job in that state to. What is not here does not happen."""


class InvalidTransition(Exception):
    """A move the table does not have: a bug in the scanner, never a client's doing."""


@dataclass
class Job:
    """A job as the table keeps it. Read it anywhere in the core; only JobTable writes it."""

    id: int
    token: str
    ticket: ScanTicket
    final: FinalParameters
    image_info: ImageInformation
    crop: PixelWindow | None = None
    """The image's pixels within each scanned frame (None: the whole frame)."""
    owner: str | None = None
    """Who created the job, as the front end names its clients (opaque here); None: anyone."""
    created: datetime = field(default_factory=now)
    state: JobState = JobState.PENDING
    reasons: tuple[JobStateReason, ...] = (JobStateReason.NONE,)
    completed: datetime | None = None
    images_done: int = 0
    documents: list[str] = field(default_factory=list)
    feeder_empty: bool = False
    one_file_held_all: bool = False
    deadline: object = field(default=None, repr=False)

    @property
    def images_wanted(self) -> int:
        """0 = as many as the feeder holds."""
        return self.final.images_to_transfer.value

    @property
    def scanning(self) -> bool:
        """An image is being retrieved (or a cancelled one is still stopping)."""
        return self.state in (JobState.PROCESSING, JobState.TERMINATING)

    @property
    def from_platen(self) -> bool:
        return self.final.input_source.value is InputSource.PLATEN

    @property
    def all_images_done(self) -> bool:
        return self.feeder_empty or self.one_file_held_all or bool(
            self.images_wanted and self.images_done >= self.images_wanted)

    def view(self) -> JobView:
        return JobView(
            id=self.id, token=self.token, owner=self.owner, state=self.state, reasons=self.reasons,
            images_done=self.images_done, feeder_empty=self.feeder_empty, more_images=not self.all_images_done,
            created=self.created, completed=self.completed, ticket=self.ticket, final=self.final,
            image_info=self.image_info, documents=tuple(self.documents),
        )


class JobTable:
    """One scanner's jobs: at most one active, a bounded history."""

    def __init__(self, clock, on_change: Callable[[JobView], None] = lambda view: None,
                 on_timeout: Callable[[Job], None] = lambda job: None,
                 timeout: float = RETRIEVE_TIMEOUT, history_size: int = HISTORY_SIZE):
        self._clock = clock
        self._on_change = on_change
        self._on_timeout = on_timeout
        self._timeout = timeout
        self._jobs: dict[int, Job] = {}
        self._history: collections.deque[Job] = collections.deque(maxlen=history_size)
        self._setting_up = False
        # Start somewhere random so that ids from before a restart are not handed out again soon.
        self._next_id = secrets.randbelow(2**30) + 1

    # ------------------------------------------------------------ queries

    @property
    def active(self) -> list[Job]:
        return list(self._jobs.values())

    @property
    def history(self) -> list[Job]:
        return list(reversed(self._history))

    def busy(self) -> bool:
        """A job is active or being set up."""
        return bool(self._jobs) or self._setting_up

    def find(self, job_id: int, owner: str | None = None) -> Job:
        """The job with that id; with ``owner``, only if that owner created it (another's job is not found)."""
        job = self._jobs.get(job_id) or next((j for j in self._history if j.id == job_id), None)
        if job is None or (owner is not None and job.owner is not None and job.owner != owner):
            raise JobError(ErrorKind.NOT_FOUND, f"no job {job_id}" + (" of this client" if job is not None else ""))
        return job

    def for_retrieve(self, job_id: int, token: str) -> Job:
        """The job whose next image may be retrieved, or the JobError that says why not."""
        job = self.find(job_id)
        if not secrets.compare_digest(job.token, token or ""):
            raise JobError(ErrorKind.BAD_TOKEN, "the JobToken does not belong to this job")
        if job.state in (JobState.CANCELED, JobState.TERMINATING):
            raise JobError(ErrorKind.CANCELLED, "the job was cancelled")
        if job.state.ended or job.all_images_done:
            raise JobError(ErrorKind.NO_IMAGES, "the job has no more images")
        if job.scanning:
            raise JobError(ErrorKind.BUSY, "an image of this job is already being retrieved")
        return job

    # ------------------------------------------------------------ events

    def begin_setup(self) -> None:
        """A job is about to be set up on the device: until ``create`` or ``setup_failed``, no other may."""
        if self.busy():
            raise JobError(ErrorKind.BUSY, "the scanner is busy with another job")
        self._setting_up = True

    def setup_failed(self) -> None:
        self._setting_up = False

    def create(self, ticket: ScanTicket, final: FinalParameters, info: ImageInformation,
               crop: PixelWindow | None = None, owner: str | None = None) -> Job:
        self._setting_up = False
        if self._jobs:
            raise JobError(ErrorKind.BUSY, "the scanner is busy with another job")
        job = Job(self._new_id(), secrets.token_urlsafe(18), ticket, final, info, crop=crop, owner=owner)
        self._jobs[job.id] = job
        self._arm(job)
        self._told(job)
        return job

    def retrieve_started(self, job: Job, streaming: bool = True) -> None:
        """An image is being scanned; ``streaming``: its bytes go out as they come (else once it is whole)."""
        self._disarm(job)
        reason = JobStateReason.SCANNING_AND_TRANSFERRING if streaming else JobStateReason.SCANNING
        self._move(job, Event.RETRIEVE_STARTED, JobState.PROCESSING, reason)

    def document_named(self, job: Job, name: str | None) -> str:
        """The image being retrieved is a document of the job: the client's name for it, or Image001 and on."""
        if job.state is not JobState.PROCESSING:
            return name or ""
        name = name or f"Image{len(job.documents) + 1:03d}"
        job.documents.append(name)
        return name

    def retrieve_ended(self, job: Job, images: int, feeder_empty: bool = False, held_all: bool = False) -> None:
        """A retrieve ended well with ``images`` images; ``feeder_empty``: the feeder ran out;
        ``held_all``: one multi-page file held every image the job will have."""
        if job.state is JobState.TERMINATING:
            self._end(job, Event.RETRIEVE_ENDED, JobState.CANCELED, JobStateReason.NONE)
            return
        if job.state is not JobState.PROCESSING:
            return
        job.images_done += images
        job.feeder_empty = job.feeder_empty or feeder_empty
        job.one_file_held_all = job.one_file_held_all or held_all
        if job.all_images_done:
            self._end(job, Event.RETRIEVE_ENDED, JobState.COMPLETED, JobStateReason.COMPLETED_SUCCESSFULLY)
        else:
            self._move(job, Event.RETRIEVE_ENDED, JobState.STARTED, JobStateReason.NONE)
            self._arm(job)

    def retrieve_failed(self, job: Job, failure: Failure) -> None:
        """A retrieve ended without its image."""
        if job.state is JobState.TERMINATING:
            self._end(job, Event.RETRIEVE_FAILED, JobState.CANCELED, JobStateReason.NONE)
        elif job.state is JobState.PROCESSING:
            self._end(job, Event.RETRIEVE_FAILED, *FAILURES[failure])

    def cancel_requested(self, job: Job) -> bool:
        """A client cancels the job. True when a scan is in progress: the caller stops it, and the job
        ends (Canceled) when the scan does."""
        if job.state is JobState.PROCESSING:
            self._move(job, Event.CANCEL_REQUESTED, JobState.TERMINATING, JobStateReason.NONE)
            return True
        if job.state in (JobState.PENDING, JobState.STARTED):
            self._end(job, Event.CANCEL_REQUESTED, JobState.CANCELED, JobStateReason.NONE)
        return False

    def abandoned(self, job: Job, failure: Failure) -> None:
        """The scanner cannot go on with the job (it stopped answering, or went away): it ends now."""
        if not job.state.ended:
            state, reason = FAILURES[failure]
            self._end(job, Event.ABANDONED, state, reason)

    def _expired(self, job: Job) -> None:
        job.deadline = None
        if job.state in (JobState.PENDING, JobState.STARTED):
            self._end(job, Event.TIMED_OUT, JobState.ABORTED, JobStateReason.TIMED_OUT)
            self._on_timeout(job)

    # ------------------------------------------------------------ machinery

    def _new_id(self) -> int:
        job_id = self._next_id
        self._next_id = job_id % MAX_JOB_ID + 1
        return job_id

    def _move(self, job: Job, event: Event, state: JobState, reason: JobStateReason) -> None:
        if state not in TRANSITIONS.get((event, job.state), ()):
            raise InvalidTransition(f"job {job.id}: {event.value} in {job.state.value} cannot lead to {state.value}")
        if (job.state, job.reasons) != (state, (reason,)):
            job.state, job.reasons = state, (reason,)
            self._told(job)

    def _end(self, job: Job, event: Event, state: JobState, reason: JobStateReason) -> None:
        self._disarm(job)
        if state not in TRANSITIONS.get((event, job.state), ()):
            raise InvalidTransition(f"job {job.id}: {event.value} in {job.state.value} cannot lead to {state.value}")
        job.completed = now()
        self._jobs.pop(job.id, None)
        self._history.append(job)
        self._move(job, event, state, reason)

    def _told(self, job: Job) -> None:
        self._on_change(job.view())

    def _arm(self, job: Job) -> None:
        self._disarm(job)
        job.deadline = self._clock.callLater(self._timeout, self._expired, job)

    def _disarm(self, job: Job) -> None:
        if job.deadline is not None and job.deadline.active():
            job.deadline.cancel()
        job.deadline = None
