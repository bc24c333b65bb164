"""A scanner at the python-sane boundary, and a reactor the test drives: the core in-process.

``FakeDevice`` has what ``saneapi.SaneDevice`` has: a flatbed and a feeder
holding ``sheets`` pages, grey and colour at 8 bits, a scan area in mm. A
test may hold its reads (``hold``) to act in the middle of a page. Beside
the tests of the real test backend, never instead of them.

``ThreadedClock`` is a ``task.Clock`` that also takes ``callFromThread``;
the test thread plays the reactor and runs those calls in ``pump``.
"""

from __future__ import annotations

import queue
import threading
import time

from twisted.internet.task import Clock

from gateway.scanner import saneapi
from gateway.scanner.saneapi import (
    CAP_SOFT_DETECT, CAP_SOFT_SELECT, TYPE_FIXED, TYPE_INT, TYPE_STRING, UNIT_DPI, UNIT_MM, UNIT_NONE, DeviceInfo,
    FrameParameters, OptionInfo, SaneError, Status,
)

FLATBED, FEEDER = "Flatbed", "Automatic Document Feeder"
WIDTH_MM, HEIGHT_MM = 215.9, 297.0
INFO = DeviceInfo("fake:0", "Fake", "Scanner 1", "flatbed scanner")


class ThreadedClock(Clock):
    def __init__(self):
        super().__init__()
        self._calls: queue.Queue = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self._calls.put((f, args, kwargs))

    def pump(self, until=lambda: False, timeout: float = 5.0) -> None:
        """Run what the threads handed to the reactor until ``until()`` holds (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError("the core did not get there in time")
            try:
                f, args, kwargs = self._calls.get(timeout=0.01)
            except queue.Empty:
                continue
            f(*args, **kwargs)

    def settle(self, seconds: float = 0.2) -> None:
        """Run what arrives for a while."""
        end = time.monotonic() + seconds
        self.pump(lambda: time.monotonic() > end, timeout=seconds + 1)


def _option(name, type_, unit, constraint, cap=CAP_SOFT_SELECT | CAP_SOFT_DETECT):
    return OptionInfo(name, name, type_, unit, 4, cap, constraint)


class FakeDevice:
    def __init__(self, sheets: int = 0, start_error: Status | None = None):
        self.info = INFO
        self.sheets = sheets
        self.start_error = start_error
        self.values = {"source": FLATBED, "mode": "Gray", "resolution": 75, "tl-x": 0.0, "tl-y": 0.0,
                       "br-x": WIDTH_MM, "br-y": HEIGHT_MM}
        self.hold = threading.Event()
        self.hold.set()  # reads flow; clear it to hold them after the first
        self.reading = threading.Event()
        self.cancelled = threading.Event()
        self.closed = False
        self.starts = 0
        self._left = 0
        self._reads = 0

    def options(self) -> dict[str, OptionInfo]:
        return {
            "source": _option("source", TYPE_STRING, UNIT_NONE, [FLATBED, FEEDER]),
            "mode": _option("mode", TYPE_STRING, UNIT_NONE, ["Gray", "Color"]),
            "resolution": _option("resolution", TYPE_INT, UNIT_DPI, [75, 150, 300]),
            "tl-x": _option("tl-x", TYPE_FIXED, UNIT_MM, (0.0, WIDTH_MM, 0.0)),
            "tl-y": _option("tl-y", TYPE_FIXED, UNIT_MM, (0.0, HEIGHT_MM, 0.0)),
            "br-x": _option("br-x", TYPE_FIXED, UNIT_MM, (0.0, WIDTH_MM, 0.0)),
            "br-y": _option("br-y", TYPE_FIXED, UNIT_MM, (0.0, HEIGHT_MM, 0.0)),
        }

    def get(self, name):
        return self.values[name]

    def set(self, name, value):
        self.values[name] = value

    def parameters(self) -> FrameParameters:
        v, dpi = self.values, self.values["resolution"]
        ppl = max(1, round((v["br-x"] - v["tl-x"]) / 25.4 * dpi))
        lines = max(1, round((v["br-y"] - v["tl-y"]) / 25.4 * dpi))
        colour = v["mode"] == "Color"
        return FrameParameters("color" if colour else "gray", True, ppl, lines, 8, ppl * (3 if colour else 1))

    def start(self) -> None:
        self.starts += 1
        self.cancelled.clear()
        if self.start_error is not None:
            raise SaneError(self.start_error, self.start_error.name)
        if self.values["source"] == FEEDER:
            if self.sheets == 0:
                raise SaneError(Status.NO_DOCS, "Document feeder out of documents")
            self.sheets -= 1
        p = self.parameters()
        self._left = p.lines * p.bytes_per_line
        self._reads = 0

    def read_into(self, buffer) -> int:
        self._reads += 1
        if self._reads > 1:
            self.reading.set()
            while not self.hold.wait(0.01):
                if self.cancelled.is_set():
                    break
        if self.cancelled.is_set():
            raise SaneError(Status.CANCELLED, "Operation was cancelled")
        n = min(len(buffer), self._left)
        buffer[:n] = bytes(n)
        self._left -= n
        return n

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


class FakeLibrary(saneapi.SaneLibrary):
    """Opens the one fake device, the same object each time, so a test can reach it."""

    def __init__(self, device: FakeDevice):
        super().__init__(None)
        self.device = device

    def devices(self):
        return [INFO]

    def open(self, info):
        self.device.closed = False
        return self.device
