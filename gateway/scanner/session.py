"""One worker thread per device: every blocking SANE call of that device runs there.

A page is read strip by strip and handed to a ``PageSink`` (the encoder and
the pipe to the HTTP response, wired by ``app.py``) on the same thread, so the
reactor never waits for the scanner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from gateway.scanner.saneapi import FrameParameters, SaneDevice, SaneError, Status

STRIP_BYTES = 256 * 1024
"""Raw bytes read per sane_read batch: small enough to stream, large enough to be cheap."""

log = Logger()


class PageSink(Protocol):
    def write(self, raw: memoryview) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


@dataclass(frozen=True)
class AppliedSettings:
    """What the device reports after a job's options were set."""

    values: dict[str, Any]
    parameters: FrameParameters


class DeviceSession:
    """A SANE device opened for the length of a job, driven from its own thread."""

    def __init__(self, reactor, open_device: Callable[[], SaneDevice], name: str):
        self._reactor = reactor
        self._open_device = open_device
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name=f"sane-{name}")
        self._pool.start()
        self._dev: SaneDevice | None = None
        self.cancel_requested = False

    def run(self, f: Callable, *args):
        """Run ``f(*args)`` on the device thread; a Deferred of its result."""
        return deferToThreadPool(self._reactor, self._pool, f, *args)

    def stop(self) -> None:
        self._pool.stop()

    # Everything below runs on the device thread.

    def _device(self) -> SaneDevice:
        if self._dev is None:
            self._dev = self._open_device()
        return self._dev

    def probe(self, f: Callable[[SaneDevice], Any]) -> Any:
        """Open, run ``f`` with the device, close: used for capabilities."""
        dev = self._device()
        try:
            return f(dev)
        finally:
            self.release()

    def apply(self, settings: list[tuple[str, Any]]) -> AppliedSettings:
        dev = self._device()
        opts = dev.options()
        for name, value in settings:
            opt = opts.get(name)
            if opt is None or not opt.active or not opt.settable:
                continue
            if opt.range is not None:
                lo, hi, _q = opt.range
                value = type(value)(min(max(value, lo), hi))
            dev.set(name, value)
            opts = dev.options()
        values = {name: dev.get(name) for name, _ in settings if name in opts and opts[name].active}
        return AppliedSettings(values, dev.parameters())

    def scan_page(self, open_sink: Callable[[FrameParameters], PageSink]) -> FrameParameters:
        """sane_start, then stream the frame into the sink. Raises SaneError (e.g. NO_DOCS).

        The sink is opened only once the first rows arrived, so that an error
        at the start of a page (jam, cover open) can still be answered as a fault.
        """
        dev = self._device()
        self.cancel_requested = False
        dev.start()
        params = dev.parameters()
        if not params.last_frame or params.format not in ("gray", "color"):
            dev.cancel()
            raise SaneError(Status.UNSUPPORTED, "three-pass scanners are not supported yet")
        rows = max(1, STRIP_BYTES // max(params.bytes_per_line, 1))
        buf = bytearray(rows * params.bytes_per_line)
        view = memoryview(buf)
        n = dev.read_into(buf)
        sink = open_sink(params)
        try:
            while n:
                sink.write(view[:n])
                if self.cancel_requested:
                    dev.cancel()
                    raise SaneError(Status.CANCELLED, "cancelled")
                n = dev.read_into(buf)
        except BaseException:
            sink.abort()
            raise
        sink.finish()
        return params

    def release(self) -> None:
        """sane_cancel and close: the device is free for other SANE users."""
        if self._dev is not None:
            dev, self._dev = self._dev, None
            try:
                dev.cancel()
            finally:
                dev.close()
