"""What a protocol front end may ask of a scanner, and hear from it: the scanner core's interface.

``wsd/`` (and ``escl/``) never import ``scanner/``: they are handed objects
that have this shape (``scanner.device.Scanner``) and speak in ``model``
values. The core knows no protocol: it takes tickets, gives capabilities,
status and read-only job views, streams images through a pipe, and tells
every listener of every change. One job at a time per scanner, whichever
front end asks: a second ``create_job`` fails as busy.

Errors are ``model.ServiceError`` with an ``ErrorKind``; each front end maps
every kind to its own answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from twisted.internet import defer

from gateway.model import (
    Capabilities, FinalParameters, FormatTable, ImageInformation, JobView, ScannerIdentity, ScannerStatus,
    ScanTicket,
)
from gateway.pipe import ThreadPipe


@dataclass(frozen=True)
class ImageStream:
    """A document that started scanning: its file's bytes arrive through ``pipe`` while the scanner scans.

    ``pipe`` is an ``IPushProducer``: ``pipe.attach(write, done)`` hands each
    chunk to ``write`` and calls ``done(error)`` once (``None``: the document
    is complete; a ``pipe.PipeClosed``/exception: it was cut off).
    ``pipe.stopProducing()`` (the client went away) stops the scan.
    """

    content_type: str
    pipe: ThreadPipe
    job: JobView
    """The job as its document began."""
    document: str
    """The document's name (the client's, or Image001 and on)."""


class ScannerListener(Protocol):
    """Told of every change of one scanner, on the reactor. Several may listen (one per front end)."""

    def job_changed(self, job: JobView) -> None:
        """A job was created or changed state (``job.state.ended``: it has ended)."""

    def status_changed(self, old: ScannerStatus, new: ScannerStatus) -> None:
        """The scanner's state, reasons or conditions changed."""

    def description_changed(self) -> None:
        """Its name, location or information changed (capabilities hold the new ones)."""


class ScannerCore(Protocol):
    """One scanner, as every front end drives it. Methods run on the reactor."""

    identity: ScannerIdentity
    formats: FormatTable

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def default_parameters(self) -> FinalParameters:
        """What a ticket that asks for nothing gets."""

    def status(self) -> ScannerStatus: ...

    def validate(self, ticket: ScanTicket) -> tuple[FinalParameters, ImageInformation]:
        """The parameters a job would use, and its images' size, without touching the device
        (``ServiceError`` CONFLICT, FORMAT or INVALID for a ticket that cannot be scanned)."""

    def create_job(self, ticket: ScanTicket, owner: str | None = None) -> defer.Deferred:
        """Fires with the new job's ``JobView`` once the device is set up for it (``ServiceError`` BUSY
        while another job is active, DEVICE if the scanner fails). ``owner`` (opaque) names the client:
        only it may cancel the job."""

    def next_document(self, job_id: int, token: str, name: str | None = None) -> defer.Deferred:
        """Start the job's next document and fire with its ``ImageStream`` once the scanner delivers rows
        (``ServiceError`` NO_IMAGES when the feeder is empty or every image was delivered, CANCELLED,
        BAD_TOKEN, NOT_FOUND, BUSY, DEVICE)."""

    def cancel(self, job_id: int, owner: str | None = None) -> None:
        """Cancel a job; with ``owner``, only one that owner created (``ServiceError`` NOT_FOUND otherwise)."""

    def job(self, job_id: int, owner: str | None = None) -> JobView: ...

    def active_jobs(self) -> list[JobView]: ...

    def job_history(self) -> list[JobView]:
        """The jobs that ended, newest first."""

    def listen(self, listener: ScannerListener) -> Callable[[], None]:
        """Tell ``listener`` of every change from now on; returns what stops it."""
