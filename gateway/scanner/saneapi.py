"""The python-sane boundary: the only module that touches the SANE library.

Everything above it sees ``SaneDevice`` and typed values, so a test may put a
small fake here (duplex, which SANE's ``test`` backend lacks) and nowhere else.
Every call blocks: callers run them on the device's worker thread.
"""

from __future__ import annotations

import enum
import math
import os
import signal
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import sane  # python-sane
from twisted.logger import Logger

from gateway.scanner import _saneio

log = Logger()

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE)
"""What the gateway does on these must survive SANE: stop cleanly, reload, and never die of a closed socket."""

_thread_state = threading.local()
_reported: set[int] = set()


def keep_signal_handling() -> None:
    """Record the dispositions just installed (main thread, before any scan) as the ones to keep.

    SANE's reader-thread helper sets SIGPIPE back to the default (which kills)
    each time it joins a reader thread; the test backend's, snapscan's and
    others' reader threads set SIGTERM to the default or to a handler of their
    own. Every SANE call made through this module puts these back.
    """
    _saneio.keep_signals([int(s) for s in HANDLED_SIGNALS])


def restore_signal_handling() -> None:
    """Put the kept dispositions back now (also called on a timer: a backend's reader thread may change
    them while a device read waits), and say once per signal that a backend had changed it."""
    for number in _saneio.restore_signals():
        if number not in _reported:
            _reported.add(number)
            log.info("the SANE backend changed the handling of {signal}; the gateway's own is back in place",
                     signal=signal.Signals(number).name)


def _enter_sane_thread() -> None:
    """Keep the handled signals away from a thread that calls SANE, and from the threads SANE starts from it.

    They are then delivered to the reactor (main) thread, never interrupt a
    device's I/O, and cannot reach a backend's reader thread.
    """
    if not getattr(_thread_state, "blocked", False):
        if threading.current_thread() is not threading.main_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        _thread_state.blocked = True


def _sane_call(f: Callable, *args) -> Any:
    """One call into SANE, with the gateway's signal handling put back after it."""
    _enter_sane_thread()
    try:
        return f(*args)
    finally:
        restore_signal_handling()


class Status(enum.IntEnum):
    """SANE_Status codes."""

    GOOD = 0
    UNSUPPORTED = 1
    CANCELLED = 2
    DEVICE_BUSY = 3
    INVAL = 4
    EOF = 5
    JAMMED = 6
    NO_DOCS = 7
    COVER_OPEN = 8
    IO_ERROR = 9
    NO_MEM = 10
    ACCESS_DENIED = 11


_STATUS_BY_MESSAGE = {
    "Operation not supported": Status.UNSUPPORTED,
    "Operation was cancelled": Status.CANCELLED,
    "Device busy": Status.DEVICE_BUSY,
    "Invalid argument": Status.INVAL,
    "Document feeder jammed": Status.JAMMED,
    "Document feeder out of documents": Status.NO_DOCS,
    "Scanner cover is open": Status.COVER_OPEN,
    "Error during device I/O": Status.IO_ERROR,
    "Out of memory": Status.NO_MEM,
    "Access to resource has been denied": Status.ACCESS_DENIED,
}


class SaneError(Exception):
    def __init__(self, status: Status, message: str = ""):
        super().__init__(message or status.name)
        self.status = status
        self.message = message or status.name


def _translate(e: Exception) -> SaneError:
    if isinstance(e, _saneio.SaneIOError):
        try:
            return SaneError(Status(e.errno), e.strerror)
        except ValueError:
            return SaneError(Status.IO_ERROR, str(e))
    text = str(e)
    return SaneError(_STATUS_BY_MESSAGE.get(text, Status.IO_ERROR), text)


# Option types, units and capabilities as SANE numbers them.
TYPE_BOOL, TYPE_INT, TYPE_FIXED, TYPE_STRING, TYPE_BUTTON, TYPE_GROUP = range(6)
UNIT_NONE, UNIT_PIXEL, UNIT_BIT, UNIT_MM, UNIT_DPI, UNIT_PERCENT, UNIT_MICROSECOND = range(7)
CAP_SOFT_SELECT, CAP_HARD_SELECT, CAP_SOFT_DETECT = 1, 2, 4
CAP_INACTIVE = 32


@dataclass(frozen=True)
class OptionInfo:
    name: str
    title: str
    type: int
    unit: int
    size: int
    cap: int
    constraint: Any  # None, (min, max, quant) or a list of allowed values

    @property
    def active(self) -> bool:
        return not self.cap & CAP_INACTIVE

    @property
    def settable(self) -> bool:
        return bool(self.cap & CAP_SOFT_SELECT)

    @property
    def values(self) -> list | None:
        return self.constraint if isinstance(self.constraint, list) else None

    @property
    def range(self) -> tuple[float, float, float] | None:
        return self.constraint if isinstance(self.constraint, tuple) else None


@dataclass(frozen=True)
class FrameParameters:
    """sane_get_parameters, typed. ``lines`` is -1 when the height is unknown."""

    format: str  # gray, color (RGB interleaved), red, green, blue
    last_frame: bool
    pixels_per_line: int
    lines: int
    depth: int
    bytes_per_line: int


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    vendor: str
    model: str
    type: str


class SaneDevice(Protocol):
    info: DeviceInfo

    def options(self) -> dict[str, OptionInfo]: ...
    def get(self, name: str) -> Any: ...
    def set(self, name: str, value: Any) -> None: ...
    def start(self) -> None: ...
    def parameters(self) -> FrameParameters: ...
    def read_into(self, buffer: bytearray | memoryview) -> int: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


class StartGate:
    """One sane_start at a time in the whole process, until that device's reader has surely begun.

    SANE's reader-thread helper (sanei_thread) hands the reader function and
    its argument to the new thread through one static structure; a second
    sane_start before the first device's thread has read it gives both threads
    the second device: one device gets two readers (more data than its height),
    the other none (its reads wait forever). The gate opens when the device's
    first read returns (its reader has run), when it is cancelled, or
    ``HANDOVER`` seconds after sane_start returned (a reader thread starts in
    microseconds; a first read may wait long for a lamp to warm up). A
    sane_start that itself takes longer than ``MAX_WAIT`` lets others go ahead.
    """

    HANDOVER = 0.5
    MAX_WAIT = 30.0

    def __init__(self):
        self._cond = threading.Condition()
        self._holder: object | None = None
        self._until = 0.0

    def enter(self, owner: object) -> None:
        with self._cond:
            give_up = time.monotonic() + self.MAX_WAIT
            while self._holder is not None and self._holder is not owner:
                left = min(self._until, give_up) - time.monotonic()
                if left <= 0:
                    if self._until > give_up:
                        log.warn("another scanner's sane_start is taking over {s:.0f} s; starting anyway",
                                 s=self.MAX_WAIT)
                    break
                self._cond.wait(left)
            self._holder, self._until = owner, math.inf

    def started(self, owner: object) -> None:
        with self._cond:
            if self._holder is owner:
                self._until = time.monotonic() + self.HANDOVER
                self._cond.notify_all()

    def leave(self, owner: object) -> None:
        if self._holder is not owner:
            return
        with self._cond:
            if self._holder is owner:
                self._holder = None
                self._cond.notify_all()


START_GATE = StartGate()


class PythonSaneDevice:
    """A device opened through python-sane; frames are read by ``_saneio``."""

    def __init__(self, info: DeviceInfo):
        self.info = info
        with _HANDLES.library_call():
            try:
                self._dev = _sane_call(sane.open, info.name)
            except Exception as e:
                raise _translate(e) from None
            _HANDLES.opened(self)

    def options(self) -> dict[str, OptionInfo]:
        found = {}
        for (_index, name, title, _desc, type_, unit, size, cap, constraint) in _sane_call(self._dev.get_options):
            if name and type_ != TYPE_GROUP:
                found[name] = OptionInfo(name, title, type_, unit, size, cap, constraint)
        return found

    def _attr(self, name: str) -> str:
        return name.replace("-", "_")

    def get(self, name: str) -> Any:
        try:
            return _sane_call(getattr, self._dev, self._attr(name))
        except Exception as e:
            raise _translate(e) from None

    def set(self, name: str, value: Any) -> None:
        try:
            _sane_call(setattr, self._dev, self._attr(name), value)
        except Exception as e:
            raise _translate(e) from None

    def start(self) -> None:
        START_GATE.enter(self)
        try:
            _sane_call(_saneio.start, self._dev.dev)
        except Exception as e:
            START_GATE.leave(self)
            raise _translate(e) from None
        START_GATE.started(self)

    def parameters(self) -> FrameParameters:
        try:
            fmt, last, (ppl, lines), depth, bpl = _sane_call(self._dev.get_parameters)
        except Exception as e:
            raise _translate(e) from None
        return FrameParameters(fmt, bool(last), ppl, lines, depth, bpl)

    def read_into(self, buffer) -> int:
        try:
            return _sane_call(_saneio.read_into, self._dev.dev, buffer)
        except Exception as e:
            raise _translate(e) from None
        finally:
            START_GATE.leave(self)

    def cancel(self) -> None:
        try:
            _sane_call(_saneio.cancel, self._dev.dev)
        finally:
            START_GATE.leave(self)

    def close(self) -> None:
        START_GATE.leave(self)
        try:
            _sane_call(self._dev.close)
        finally:
            _HANDLES.closed(self)


class DevicesStillOpen(Exception):
    """SANE cannot start over now: a device is open (or being opened or listed) somewhere in the process."""

    def __init__(self, names: list[str]):
        super().__init__("SANE is not re-initialised while a device is in use: " + (", ".join(names) or
                         "one is being opened or listed, or SANE is starting over already"))
        self.names = names


class _Handles:
    """Every SANE handle open in the process, and the library calls under way.

    sane_exit frees what an open handle points at (the dll backend even unloads
    the backend's code): python-sane then crashes at the handle's next use, its
    close, or its garbage collection. So a re-initialisation runs only when
    none is open, and holds back every open and listing while it runs. Weak
    references: a device dropped without close() was closed by python-sane
    while SANE was still initialised, and is gone from here.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._open: weakref.WeakSet[PythonSaneDevice] = weakref.WeakSet()
        self._calls = 0
        self._restarting = False

    @contextmanager
    def library_call(self):
        """Around sane_open and sane_get_devices: waits for a re-initialisation to finish."""
        with self._cond:
            while self._restarting:
                self._cond.wait()
            self._calls += 1
        try:
            yield
        finally:
            with self._cond:
                self._calls -= 1
                self._cond.notify_all()

    def opened(self, device: PythonSaneDevice) -> None:
        with self._cond:
            self._open.add(device)

    def closed(self, device: PythonSaneDevice) -> None:
        with self._cond:
            self._open.discard(device)

    @contextmanager
    def restart(self):
        """Exclusive use of the library; raises DevicesStillOpen instead of waiting for a device's job."""
        with self._cond:
            names = sorted(d.info.name for d in self._open)
            if names or self._calls or self._restarting:
                raise DevicesStillOpen(names)
            self._restarting = True
        try:
            yield
        finally:
            with self._cond:
                self._restarting = False
                self._cond.notify_all()

    @property
    def open_names(self) -> list[str]:
        with self._cond:
            return sorted(d.info.name for d in self._open)


_HANDLES = _Handles()


class SaneLibrary:
    """sane_init once per process, device enumeration, and starting SANE over to see devices plugged in since."""

    _lock = threading.Lock()
    _initialised = False

    def __init__(self, config_dir: str | None = None):
        self.config_dir = config_dir

    def _init(self) -> None:
        with self._lock:
            if not SaneLibrary._initialised:
                if self.config_dir:
                    os.environ["SANE_CONFIG_DIR"] = self.config_dir
                _sane_call(sane.init)
                SaneLibrary._initialised = True

    def devices(self) -> list[DeviceInfo]:
        self._init()
        with _HANDLES.library_call():
            return self._get_devices()

    def _get_devices(self) -> list[DeviceInfo]:
        try:
            return [DeviceInfo(*d) for d in _sane_call(sane.get_devices, True)]
        except Exception as e:
            raise _translate(e) from None

    @property
    def open_devices(self) -> list[str]:
        """The names of the devices open now in the process (what a re-initialisation waits for)."""
        return _HANDLES.open_names

    def reinitialise(self) -> list[DeviceInfo]:
        """sane_exit, sane_init, sane_get_devices: the devices there are now.

        Most backends (the ``test`` one, epson2, pixma, plustek and more) list
        the USB devices they found at sane_init and never look again; only a
        new sane_init sees a scanner plugged in since (or drops one pulled
        out). Every device must be closed first: this raises DevicesStillOpen
        (naming them) rather than wait, so the caller decides when to try
        again. Opens and listings from other threads wait until it is done.
        """
        with _HANDLES.restart():
            started = time.monotonic()
            with self._lock:
                if SaneLibrary._initialised:
                    SaneLibrary._initialised = False
                    _sane_call(sane.exit)
                if self.config_dir:
                    os.environ["SANE_CONFIG_DIR"] = self.config_dir
                try:
                    _sane_call(sane.init)
                except Exception as e:
                    raise _translate(e) from None
                SaneLibrary._initialised = True
            found = self._get_devices()
        log.info("SANE started over in {s:.1f} s: {n} device(s)", s=time.monotonic() - started, n=len(found))
        return found

    def open(self, info: DeviceInfo) -> SaneDevice:
        self._init()
        return PythonSaneDevice(info)
