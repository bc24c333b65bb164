"""The scanner's own buttons and sensors, as SANE backends expose them: read-only options.

Polled only while no job runs, and the device is opened just for the read and
closed again, so other SANE users can still use it between polls.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.scanner.saneapi import CAP_SOFT_DETECT, CAP_SOFT_SELECT, TYPE_BOOL, TYPE_BUTTON, TYPE_INT, \
    OptionInfo, SaneDevice, SaneError

log = Logger()

BUTTON_NAMES = frozenset({"scan", "email", "fax", "copy", "pdf", "file", "ocr", "start", "extra", "button"})
COVER_SENSOR = "cover-open"


def is_button(opt: OptionInfo) -> bool:
    read_only = opt.cap & CAP_SOFT_DETECT and not opt.cap & CAP_SOFT_SELECT
    named = opt.name in BUTTON_NAMES or opt.name.startswith("button")
    return bool(read_only and named and opt.active and opt.type in (TYPE_BOOL, TYPE_INT, TYPE_BUTTON))


def is_cover_sensor(opt: OptionInfo) -> bool:
    return opt.name == COVER_SENSOR and bool(opt.cap & CAP_SOFT_DETECT) and opt.active and opt.type == TYPE_BOOL


def read_sensors(dev: SaneDevice) -> dict[str, int]:
    """Every button and sensor value (pressed/open = non-zero)."""
    values = {}
    for opt in dev.options().values():
        if is_button(opt) or is_cover_sensor(opt):
            try:
                values[opt.name] = int(dev.get(opt.name) or 0)
            except (SaneError, TypeError, ValueError):
                continue
    return values


class ButtonWatcher:
    """Polls one scanner's buttons; calls ``pressed(name)`` on each press and ``cover(open)`` on changes.

    ``read()`` reads the values (a Deferred dict, on the device thread); ``idle()`` says whether no job
    runs, the only time the device may be opened for it.
    """

    def __init__(self, name: str, read: Callable[[], defer.Deferred], idle: Callable[[], bool], interval: float,
                 pressed: Callable[[str], None], cover: Callable[[bool], None] = lambda is_open: None, clock=None):
        self.name = name
        self.interval = interval
        self._read = read
        self._idle = idle
        self._pressed = pressed
        self._cover = cover
        self._last: dict[str, int] = {}
        self._loop = LoopingCall(self.poll)
        if clock is not None:
            self._loop.clock = clock
        self._polling = False

    def start(self) -> None:
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def poll(self) -> None:
        if self._polling or not self._idle():
            return
        self._polling = True
        d = self._read()
        d.addCallbacks(self._seen, lambda f: log.debug("button poll failed: {e}", e=f.getErrorMessage()))
        d.addBoth(self._done)

    def _done(self, _):
        self._polling = False

    def _seen(self, values: dict[str, int]) -> None:
        for name, value in values.items():
            before = self._last.get(name)
            if name == COVER_SENSOR:
                if before is None or bool(before) != bool(value):
                    self._cover(bool(value))
            elif value and not before and before is not None:
                log.info("button {name} pressed on {scanner}", name=name, scanner=self.name)
                self._pressed(name)
        self._last = values
