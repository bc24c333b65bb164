"""The watchdog of one scanner's device calls, on the reactor.

Once a second it looks at the device call a scan waits in (sane_start, a
read, the cancel or close at its end). Past the device timeout that call is
cancelled from a helper thread (``DeviceSession.interrupt``) and the scanner
is told (``interrupted``); a scanner that does not answer the cancel either,
within another timeout, is given up (``stuck``): the scanner leaves that
device thread behind and opens the device afresh for the next job.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import task
from twisted.logger import Logger

from gateway.scanner.saneapi import SaneError, Status
from gateway.scanner.session import DeviceSession

log = Logger()

WATCH_INTERVAL = 1.0
"""Seconds between two looks at the device call in progress."""


class Watchdog:
    def __init__(self, clock, session: Callable[[], DeviceSession], name: Callable[[], str],
                 interrupted: Callable[[SaneError], None], stuck: Callable[[DeviceSession], None],
                 interval: float = WATCH_INTERVAL):
        self._clock = clock
        self._session = session
        self._name = name
        self._interrupted = interrupted
        self._stuck = stuck
        self._interrupted_at: float | None = None
        self._loop = task.LoopingCall(self.look)
        self._loop.clock = clock
        self._loop.start(interval, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def look(self) -> None:
        session = self._session()
        waited = session.waiting_for()
        if self._interrupted_at is None:
            if waited > session.device_timeout:
                error = SaneError(Status.IO_ERROR, f"the scanner sent nothing for over {session.device_timeout:g} s")
                log.warn("{scanner}: {error}; cancelling its scan", scanner=self._name(), error=error.message)
                self._interrupted_at = self._clock.seconds()
                session.interrupt(error)
                self._interrupted(error)
        elif waited == 0:
            self._interrupted_at = None
        elif self._clock.seconds() - self._interrupted_at > session.device_timeout:
            self._interrupted_at = None
            self._stuck(session)
