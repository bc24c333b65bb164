"""Scan jobs: ids, tokens, states and reasons, the retrieve deadline, history.

A job lives here from CreateScanJob to its end; the table knows nothing of
SANE or XML and tells listeners (status page, events) of every change.
"""

from __future__ import annotations

import collections
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from gateway.model import (
    ErrorKind, FinalParameters, ImageInformation, JobError, JobSnapshot, JobState, JobStateReason, PixelWindow, ScanTicket,
)

RETRIEVE_TIMEOUT = 60.0
"""Seconds a client has for its next RetrieveImage before the job is aborted (JobTimedOut)."""
HISTORY_SIZE = 20
MAX_JOB_ID = 2**31 - 1


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass
class Job:
    id: int
    token: str
    ticket: ScanTicket
    final: FinalParameters
    image_info: ImageInformation
    created: datetime = field(default_factory=now)
    state: JobState = JobState.PENDING
    reasons: tuple[JobStateReason, ...] = (JobStateReason.NONE,)
    completed: datetime | None = None
    scans_completed: int = 0
    documents: list[str] = field(default_factory=list)
    retrieving: bool = False
    no_more_images: bool = False  # the feeder ran empty, or one multi-page file held every image
    window: PixelWindow | None = None  # the image's pixels within each scanned frame (None: the whole frame)
    owner: str | None = None
    """Who created the job, as the front end names its clients (opaque here); None: anyone."""
    deadline: object = field(default=None, repr=False)

    @property
    def images_wanted(self) -> int:
        """0 = as many as the feeder holds."""
        return self.final.images_to_transfer.value

    @property
    def all_images_done(self) -> bool:
        return self.no_more_images or (self.images_wanted and self.scans_completed >= self.images_wanted)

    def snapshot(self) -> JobSnapshot:
        return JobSnapshot(
            id=self.id, state=self.state, reasons=self.reasons,
            scans_completed=self.scans_completed, created=self.created, completed=self.completed,
            ticket=self.ticket, final=self.final, documents=tuple(self.documents),
        )


class JobTable:
    """One scanner's jobs: at most one active, a bounded history."""

    def __init__(self, clock, on_timeout: Callable[[Job], None], on_change: Callable[[Job], None] = lambda job: None,
                 timeout: float = RETRIEVE_TIMEOUT, history_size: int = HISTORY_SIZE):
        self._clock = clock
        self._on_timeout = on_timeout
        self._on_change = on_change
        self._timeout = timeout
        self._jobs: dict[int, Job] = {}
        self._history: collections.deque[Job] = collections.deque(maxlen=history_size)
        # Start somewhere random so that ids from before a restart are not handed out again soon.
        self._next_id = secrets.randbelow(2**30) + 1

    def _new_id(self) -> int:
        job_id = self._next_id
        self._next_id = job_id % MAX_JOB_ID + 1
        return job_id

    @property
    def active(self) -> list[Job]:
        return list(self._jobs.values())

    @property
    def history(self) -> list[Job]:
        return list(reversed(self._history))

    def busy(self) -> bool:
        return bool(self._jobs)

    def create(self, ticket: ScanTicket, final: FinalParameters, info: ImageInformation,
               owner: str | None = None) -> Job:
        if self._jobs:
            raise JobError(ErrorKind.BUSY, "the scanner is busy with another job")
        job = Job(self._new_id(), secrets.token_urlsafe(18), ticket, final, info, owner=owner)
        self._jobs[job.id] = job
        self._arm(job)
        self._on_change(job)
        return job

    def find(self, job_id: int, owner: str | None = None) -> Job:
        """The job with that id; with ``owner``, only if that owner created it (another's job is not found)."""
        job = self._jobs.get(job_id) or next((j for j in self._history if j.id == job_id), None)
        if job is None or (owner is not None and job.owner is not None and job.owner != owner):
            raise JobError(ErrorKind.NOT_FOUND, f"no job {job_id}" + (" of this client" if job is not None else ""))
        return job

    def for_retrieve(self, job_id: int, token: str) -> Job:
        """The job a RetrieveImage may scan for, or the JobError the spec names."""
        job = self.find(job_id)
        if not secrets.compare_digest(job.token, token or ""):
            raise JobError(ErrorKind.BAD_TOKEN, "the JobToken does not belong to this job")
        if job.state in (JobState.CANCELED, JobState.TERMINATING):
            raise JobError(ErrorKind.CANCELLED, "the job was cancelled")
        if job.state.ended or job.all_images_done:
            raise JobError(ErrorKind.NO_IMAGES, "the job has no more images")
        if job.retrieving:
            raise JobError(ErrorKind.BUSY, "an image of this job is already being retrieved")
        return job

    def _arm(self, job: Job) -> None:
        self._disarm(job)
        job.deadline = self._clock.callLater(self._timeout, self._expired, job)

    def _disarm(self, job: Job) -> None:
        if job.deadline is not None and job.deadline.active():
            job.deadline.cancel()
        job.deadline = None

    def _expired(self, job: Job) -> None:
        job.deadline = None
        if not job.state.ended and not job.retrieving:
            self.end(job, JobState.ABORTED, (JobStateReason.TIMED_OUT,))
            self._on_timeout(job)

    def set_state(self, job: Job, state: JobState, reasons: tuple[JobStateReason, ...]) -> None:
        if (job.state, job.reasons) != (state, reasons):
            job.state, job.reasons = state, reasons
            self._on_change(job)

    def retrieve_started(self, job: Job,
                         reason: JobStateReason = JobStateReason.SCANNING_AND_TRANSFERRING) -> None:
        """An image is being scanned: ``reason`` says whether its bytes go out as they come (the default)."""
        self._disarm(job)
        job.retrieving = True
        self.set_state(job, JobState.PROCESSING, (reason,))

    def retrieve_finished(self, job: Job, images: int) -> None:
        """A RetrieveImage ended; the job ends with it when it was the last image."""
        job.retrieving = False
        job.scans_completed += images
        if job.state.ended:
            return
        if job.all_images_done:
            self.end(job, JobState.COMPLETED, (JobStateReason.COMPLETED_SUCCESSFULLY,))
        else:
            self.set_state(job, JobState.STARTED, (JobStateReason.NONE,))
            self._arm(job)

    def end(self, job: Job, state: JobState, reasons: tuple[JobStateReason, ...]) -> None:
        if job.state.ended:
            return
        self._disarm(job)
        job.completed = now()
        self._jobs.pop(job.id, None)
        self._history.append(job)
        self.set_state(job, state, reasons)
