"""SANE looks for scanners again after a USB change, but only while no scan runs anywhere.

Most backends see a scanner plugged in (or pulled out) only after sane_exit
and sane_init, and sane_exit frees every open handle: a scan in progress on
another scanner would be cut, and python-sane crashes at that handle's next
use. So a rescan is asked for, and held until every job in the process has
ended and every handle is closed; then SANE starts over on a thread and the
caller is handed the devices there are now.

States (``RescanState``)::

    IDLE     -- request -->  WANTED  (held while a job runs or a device is open)
    WANTED   -- nothing busy --> RUNNING  (reinitialise on a thread)
    RUNNING  -- done --> IDLE, or WANTED if another request came meanwhile
    RUNNING  -- DevicesStillOpen --> WANTED, tried again after RETRY seconds
                                     (a job's handle is closed just after it ends,
                                     a sensor read holds one for a moment)
"""

from __future__ import annotations

import enum
from typing import Callable

from twisted.internet import defer, threads
from twisted.logger import Logger

from gateway.model import JobView, ScannerStatus
from gateway.scanner.saneapi import DeviceInfo, DevicesStillOpen, SaneLibrary

log = Logger()

RETRY = 0.5
"""Seconds before a rescan refused because a device was still open is tried again."""
LONGEST_RETRY = 10.0
"""The wait between tries grows to this while a device stays open with no job (a stuck driver)."""


class RescanState(enum.Enum):
    IDLE = "idle"
    WANTED = "wanted"
    RUNNING = "running"


class Rescanner:
    """Starts SANE over when asked and nothing is busy; tells ``found`` the devices there are then.

    ``busy()`` names the scanners whose job is active now. It listens to every
    served scanner (``scanner_api.ScannerListener``): a job's end is when a
    held rescan may run.
    """

    def __init__(self, reactor, library: SaneLibrary, busy: Callable[[], list[str]],
                 found: Callable[[list[DeviceInfo]], defer.Deferred | None], retry: float = RETRY,
                 in_thread: Callable[..., defer.Deferred] = threads.deferToThread):
        self._reactor = reactor
        self._library = library
        self._busy = busy
        self._found = found
        self._retry = retry
        self._in_thread = in_thread
        self._wait = retry
        self.state = RescanState.IDLE
        self._why = ""
        self._held_for: tuple[str, ...] = ()
        self._timer = None
        self._stopped = False
        self._again = False

    def request(self, why: str) -> None:
        """A USB change (``why`` says which): look again as soon as nothing is busy."""
        self._why = why
        if self.state is RescanState.RUNNING:
            self._again = True
            return
        self.state = RescanState.WANTED
        self._try()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    # ScannerListener: a held rescan runs when the last job ends.

    def job_changed(self, job: JobView) -> None:
        if job.state.ended and self.state is RescanState.WANTED:
            self._wait = self._retry
            self._later(self._retry)  # its handle is closed on the device thread just after

    def status_changed(self, old: ScannerStatus, new: ScannerStatus) -> None:
        pass

    def description_changed(self) -> None:
        pass

    # ------------------------------------------------------------ trying

    def _later(self, seconds: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._reactor.callLater(seconds, self._try)

    def _try(self) -> None:
        if self._stopped or self.state is not RescanState.WANTED:
            return
        busy = tuple(self._busy())
        if busy:
            if busy != self._held_for:
                log.info("USB change: rescan held until {scanners}'s job ends", scanners=" and ".join(busy))
            self._held_for = busy
            return  # job_changed tries again
        self._held_for = ()
        self.state = RescanState.RUNNING
        self._again = False
        log.info("USB change ({why}): SANE looks for scanners again", why=self._why)
        d = self._in_thread(self._library.reinitialise)
        d.addCallbacks(self._done, self._refused)

    def _refused(self, failure) -> None:
        if not failure.check(DevicesStillOpen):
            log.error("SANE could not look for scanners again after a USB change: {error}; unplug the "
                      "scanner and plug it in again, or restart the gateway", error=failure.value)
            self.state = RescanState.IDLE
            return
        self.state = RescanState.WANTED
        names = tuple(failure.value.names)
        if names != self._held_for:
            log.info("USB change: rescan held until {devices} is closed", devices=" and ".join(names) or
                     "a device being opened")
        self._held_for = names
        self._later(self._wait)
        self._wait = min(self._wait * 2, LONGEST_RETRY)

    @defer.inlineCallbacks
    def _done(self, found: list[DeviceInfo]):
        self._wait = self._retry
        if self._stopped:
            return  # the gateway stops: nothing is to be served any more
        try:
            yield self._found(found)
        finally:
            self.state = RescanState.WANTED if self._again else RescanState.IDLE
            if self._again and not self._stopped:
                self._try()
