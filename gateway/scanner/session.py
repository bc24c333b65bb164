"""Every piece of code that runs off the reactor thread, and the thread model.

Threads, and what runs on each:

- **the reactor** (main thread): everything else, the watchdog's timer
  included (``watchdog.py``), and the reading side of each pipe. It never
  waits for the scanner: it hands work to a device thread and gets a Deferred.
- **one device thread per scanner** (``DeviceSession``, a pool of one named
  ``sane-<device>``): every blocking SANE call of that device, in order:
  open, options (``probe`` runs capability and sensor reads there),
  ``set_up`` of a job's options, ``scan_document`` (sane_start, the strip
  reads), cancel, close. It is driven by frozen plans built on the reactor
  (``DocumentPlan``) and hears of a cancel through a ``threading.Event``.
- **one encode thread per scanner** (``EncodeThread``, ``encode-<device>``):
  each page's strips go from the device thread through a bounded queue
  (``StripPump``) to the page's sink there: the C encoder (which releases
  the GIL) and the pipe's writing side, which blocks while the client is slow.
- **a watchdog helper** (``sane-cancel-<device>``, one short-lived thread a
  time): a sane_cancel for a device call that hangs (``interrupt``).
- **device enumeration** (``enumerate_devices``): sane_get_devices on the
  reactor's thread pool, at start.

Across the process, ``saneapi.START_GATE`` lets one sane_start run at a time
(SANE's reader-thread helper hands its reader the device through one static
structure), and SANE's own backend threads run beside ours.
"""

from __future__ import annotations

import array
import ctypes
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Protocol

from twisted.internet import threads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from gateway.model import FinalParameters, InputSource, PixelWindow, UsedSide
from gateway.pipe import ThreadPipe
from gateway.scanner.capabilities import DeviceProfile
from gateway.scanner.saneapi import FrameParameters, SaneDevice, SaneError, SaneLibrary, Status
from gateway.scanner.ticket import Placement, enclosing_area, image_window, place, sane_settings, source_profile

STRIP_BYTES = 256 * 1024
"""Raw bytes read per sane_read batch: small enough to stream, large enough to be cheap."""
FIRST_STRIP_BYTES = 16 * 1024
"""The first strip of a page is small (whole rows, at least one), so that the response starts within a few
rows of the scanner's first data instead of a whole strip later (0.25 s on a 1 MB/s grey scanner)."""
STRIPS_IN_FLIGHT = 4
RING_SIZE = STRIPS_IN_FLIGHT + 3
READER_EXIT_WAIT = 0.05
"""Seconds the last row of a frame waits for the threads the backend started for it to end."""
READER_SETTLE = 0.2
"""Seconds a sane_cancel waits for the backend's reader threads to stop running (see ScanCalls.cancel)."""
DEVICE_TIMEOUT = 90.0
"""Seconds one device call of a scan (sane_start, a read) may take before the scan is declared stuck."""
PLANES = ("red", "green", "blue")


def interleave(planes: list, depth: int) -> bytes:
    """Three equally long planes -> RGB samples; 16-bit samples stay whole."""
    if depth == 16:
        out = array.array("H", bytes(sum(len(p) for p in planes)))
        for i, plane in enumerate(planes):
            out[i::3] = array.array("H", bytes(plane))
        return out.tobytes()
    out = bytearray(sum(len(p) for p in planes))
    for i, plane in enumerate(planes):
        out[i::3] = plane
    return bytes(out)

log = Logger()


class PageSink(Protocol):
    """Where one page's raw strips go, on the encode thread."""

    def write(self, raw: memoryview) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class DocumentSink(Protocol):
    """One file that pages are encoded into, written to a pipe (``frames_to_files.DocumentWriter`` is one)."""

    multi_page: bool

    def page(self, side: UsedSide, params: FrameParameters, crop: PixelWindow | None) -> PageSink: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


DocumentOpener = Callable[[FinalParameters, ThreadPipe], DocumentSink]


@dataclass(frozen=True)
class AppliedSettings:
    """What the device reports after a job's options were set."""

    values: dict[str, Any]
    parameters: FrameParameters


@dataclass(frozen=True)
class Setup:
    """A job's options set on the device: the image's window on the page, what the device reports, and
    where the image lies in the frame it will scan."""

    window: PixelWindow
    applied: AppliedSettings
    placement: Placement


@dataclass(frozen=True)
class DocumentPlan:
    """One RetrieveImage, decided on the reactor and read, never changed, by the device thread."""

    final: FinalParameters
    crop: PixelWindow | None
    images_before: int
    """Images the job delivered before this document: for duplex, which side comes next."""
    images_wanted: int
    """0: as many as the feeder holds."""

    @property
    def from_platen(self) -> bool:
        return self.final.input_source.value is InputSource.PLATEN

    def side(self, n: int) -> UsedSide:
        """The side the job's image number ``n`` (0-based) is scanned with."""
        back = self.final.back
        return back if back is not None and n % 2 == 1 else self.final.front


@dataclass(frozen=True)
class DocumentResult:
    images: int
    feeder_empty: bool
    """The feeder ran out after at least one image of this document."""
    held_all: bool
    """The document was one multi-page file: it holds every image the job will have."""


def enumerate_devices(library: SaneLibrary):
    """sane_get_devices off the reactor (backends may probe USB for seconds): a Deferred list of DeviceInfo."""
    return threads.deferToThread(library.devices)


class EncodeThread:
    """A device's encoding thread, kept for as long as the device is served and lent to one page at a time.

    A thread started per page took its allocations wherever glibc put a new
    thread (often a malloc arena of its own), spreading pages over arenas
    that keep what was freed in them.
    """

    def __init__(self, name: str):
        self._work: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"encode-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (work := self._work.get()) is not None:
            work()

    def run(self, work: Callable[[], None]) -> None:
        self._work.put(work)

    def stop(self) -> None:
        self._work.put(None)


class StripPump:
    """Hands strips from the reading thread to the sink on the encoding thread, a few at a time.

    The queue bound is the memory bound: at most ``STRIPS_IN_FLIGHT`` raw
    strips wait; when the encoder (or the client behind it) is slower than the
    scanner, ``put`` waits.
    """

    def __init__(self, sink: PageSink, worker: EncodeThread):
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=STRIPS_IN_FLIGHT)
        self._error: BaseException | None = None
        self._done = threading.Event()
        worker.run(self._run)

    def _run(self) -> None:
        try:
            while (strip := self._queue.get()) is not None:
                if self._error is None:
                    self._sink.write(strip)
        except BaseException as e:
            self._error = e
            while self._queue.get() is not None:
                pass
        finally:
            self._done.set()

    def put(self, strip) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(strip, timeout=0.25)
                return
            except queue.Full:
                continue

    def _stop(self) -> None:
        while not self._done.is_set():
            try:
                self._queue.put(None, timeout=0.25)
                break
            except queue.Full:
                continue
        self._done.wait()

    def finish(self) -> None:
        self._stop()
        if self._error is not None:
            self._sink.abort()
            raise self._error
        self._sink.finish()

    def abort(self) -> None:
        self._error = self._error or SaneError(Status.CANCELLED, "aborted")
        self._stop()
        self._sink.abort()


class ScanCalls:
    """The device calls of a scan (sane_start, the reads, the cancel and close at its end): timed for the
    watchdog, stopped from another thread when one hangs, and a cancel only once the backend's reader
    threads are at rest. The calls run on the device thread; ``waiting_for`` and ``interrupt`` on the reactor.
    """

    def __init__(self, name: str):
        self._name = name
        self._waiting_since: float | None = None  # monotonic start of the device call of a scan in progress
        self._stuck: SaneError | None = None
        self._backend_threads: frozenset[str] = frozenset()  # threads SANE started in the last sane_start

    # The watchdog's side (reactor).

    def waiting_for(self) -> float:
        """Seconds the device call of a scan in progress (sane_start, a read) has been waiting; 0 if none."""
        since = self._waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def interrupt(self, dev: SaneDevice | None, error: SaneError) -> None:
        """The device call in progress is stuck: sane_cancel it from a helper thread (SANE allows a cancel
        while a read waits; it makes the read return at once) and end the scan with ``error``."""
        self._stuck = error
        if dev is not None:
            threading.Thread(target=self._cancel_quietly, args=(dev,), name=f"sane-cancel-{self._name}",
                             daemon=True).start()

    def _cancel_quietly(self, dev: SaneDevice) -> None:
        try:
            self.cancel(dev)
        except Exception as e:  # noqa: BLE001 -- a cancel that fails changes nothing for the watchdog
            log.info("cancelling a stuck scan failed: {error}", error=e)

    # The device thread's side.

    def new_job(self) -> None:
        """An interruption of an earlier job no longer applies."""
        self._stuck = None

    def start(self, dev: SaneDevice) -> None:
        before = _threads()
        try:
            self._watched(dev.start)
        finally:
            self._backend_threads = _threads() - before

    def read_into(self, dev: SaneDevice, buffer: memoryview) -> int:
        return self._watched(dev.read_into, buffer)

    def cancel(self, dev: SaneDevice) -> None:
        """sane_cancel, once the backend's reader threads are gone or waiting in the kernel.

        sanei_thread makes its reader threads cancellable asynchronously and
        sane_cancel kills them with pthread_cancel: a reader caught inside
        malloc or free (filling its picture buffer just after sane_start,
        freeing it at the end) dies holding a malloc arena's lock, and the next
        thread to use that arena (often the next reader, joined by this
        thread's sane_cancel) waits for it forever: with the test backend one
        jammed scan in a few dozen hung the device that way. A reader blocked
        in write() or sleeping (not waiting for a lock) is at a safe point;
        READER_SETTLE bounds the wait.
        """
        deadline = time.monotonic() + READER_SETTLE
        while not all(_at_rest(tid) for tid in self._backend_threads) and time.monotonic() < deadline:
            time.sleep(0.001)
        dev.cancel()

    def let_reader_finish(self) -> None:
        """Before the read that ends a frame, give the backend's reader thread a moment to end by itself.

        The test backend (and any that ends its reader from sane_read at the
        frame's last byte) cancels that thread asynchronously: caught between
        its last write and its free(), it leaks its picture buffer, up to half
        a megabyte a page (or dies holding a malloc lock: see ``cancel``).
        Reading the last row only once the threads SANE started for this frame
        are gone (or after READER_EXIT_WAIT) avoids it.
        """
        deadline = time.monotonic() + READER_EXIT_WAIT
        while any(_alive(tid) for tid in self._backend_threads) and time.monotonic() < deadline:
            time.sleep(0.001)

    def close(self, dev: SaneDevice) -> None:
        """sane_cancel and close at a job's end; a driver that hangs here is the watchdog's too."""
        self._waiting_since = time.monotonic()
        try:
            self.cancel(dev)
        finally:
            try:
                dev.close()
            finally:
                self._waiting_since = None

    def _watched(self, call: Callable, *args):
        """A device call of a scan, timed by the watchdog; a call it interrupted raises the watchdog's error."""
        self._waiting_since = time.monotonic()
        try:
            result = call(*args)
        except SaneError:
            if self._stuck is not None:
                raise self._stuck from None
            raise
        finally:
            self._waiting_since = None
        if self._stuck is not None:
            raise self._stuck
        return result


class DeviceSession:
    """A SANE device opened for the length of a job, driven from its own thread."""

    def __init__(self, reactor, open_device: Callable[[], SaneDevice], name: str,
                 device_timeout: float = DEVICE_TIMEOUT):
        self._reactor = reactor
        self._open_device = open_device
        self._name = name
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name=f"sane-{name}")
        self._pool.threadFactory = _daemon_thread
        self._pool.start()
        self._dev: SaneDevice | None = None
        self._cancel_requested = threading.Event()
        self.device_timeout = device_timeout
        self._calls = ScanCalls(name)
        self._encoder: EncodeThread | None = None
        self._ring: list[bytearray] = []
        self._ring_next = 0

    def run(self, f: Callable, *args):
        """Run ``f(*args)`` on the device thread; a Deferred of its result."""
        return deferToThreadPool(self._reactor, self._pool, f, *args)

    def stop(self) -> None:
        if self._encoder is not None:
            self._encoder.stop()
        self._pool.stop()

    def request_cancel(self) -> None:
        """Stop the scan in progress at its next strip (it raises SaneError CANCELLED there)."""
        self._cancel_requested.set()

    def waiting_for(self) -> float:
        """Seconds the device call of a scan in progress has been waiting (the watchdog asks); 0 if none."""
        return self._calls.waiting_for()

    def interrupt(self, error: SaneError) -> None:
        """The device call in progress is stuck: it is cancelled from a helper thread, the scan ends with ``error``."""
        self._cancel_requested.set()
        self._calls.interrupt(self._dev, error)

    # Everything below runs on the device thread.

    def _device(self) -> SaneDevice:
        if self._dev is None:
            self._dev = self._open_device()
        return self._dev

    def probe(self, f: Callable[[SaneDevice], Any]) -> Any:
        """Run ``f`` with the device; a device opened for it is closed again (a job's stays open)."""
        opened_here = self._dev is None
        dev = self._device()
        try:
            return f(dev)
        finally:
            if opened_here:
                self.release()

    def set_up(self, final: FinalParameters, profile: DeviceProfile) -> Setup:
        """Set a job's options, with the smallest scan area that holds its image.

        A backend whose pixel count falls short of the area (its own rounding) gets that edge moved
        out by one of its steps, a few times at most.
        """
        side = final.front
        window = image_window(side)
        unit, geometry = profile.geometry_unit, source_profile(final, profile).geometry
        outwards = (0, 0, 0, 0)
        area = enclosing_area(window, side.resolution, unit, geometry, outwards)
        for _attempt in range(4):
            applied = self.apply(sane_settings(final, side, profile, area))
            p = applied.parameters
            placement = place(window, side.resolution, unit, applied.values, p.pixels_per_line, p.lines)
            outwards = tuple(o + s for o, s in zip(outwards, placement.short))
            wider = enclosing_area(window, side.resolution, unit, geometry, outwards)
            if wider == area:
                break
            area = wider
        return Setup(window, applied, placement)

    def apply(self, settings: list[tuple[str, Any]]) -> AppliedSettings:
        """Set a new job's options; a cancel asked of an earlier job no longer applies."""
        self._cancel_requested.clear()
        self._calls.new_job()
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

    def scan_document(self, plan: DocumentPlan, open_document: DocumentOpener, pipe: ThreadPipe,
                      first_rows: Callable[[], None]) -> DocumentResult:
        """The pages of one RetrieveImage into one document (every page of the job, for a multi-page format).

        ``first_rows`` is called (here) once the first page's rows arrived.
        """
        document = open_document(plan.final, pipe)
        images, feeder_empty = 0, False
        try:
            while True:
                side = plan.side(plan.images_before + images)

                def open_page(params: FrameParameters, side=side) -> PageSink:
                    sink = document.page(side, params, plan.crop)
                    if images == 0:
                        first_rows()
                    return sink
                try:
                    self.scan_page(open_page)
                except SaneError as e:
                    if e.status is Status.NO_DOCS and images > 0:
                        feeder_empty = True
                        break
                    raise
                images += 1
                wanted = plan.images_wanted
                if not document.multi_page or (wanted and plan.images_before + images >= wanted):
                    break
                if plan.from_platen:
                    break
            document.finish()
        except BaseException:
            document.abort()
            raise
        return DocumentResult(images, feeder_empty, document.multi_page)

    def scan_page(self, open_sink: Callable[[FrameParameters], PageSink]) -> FrameParameters:
        """sane_start, then stream the frame into the sink. Raises SaneError (e.g. NO_DOCS).

        The sink is opened only once the first rows arrived, so that an error
        at the start of a page (jam, cover open) can still be answered as a
        fault. This thread only reads; the sink encodes on a thread of its own
        (``StripPump``), so a slow scanner and the encoder work side by side.
        """
        dev = self._device()
        if self._encoder is None:
            self._encoder = EncodeThread(self._name)  # started here: it inherits this thread's signal mask
        self._calls.start(dev)
        params = dev.parameters()
        if params.format in PLANES:
            return self._scan_planes(dev, params, open_sink)
        if params.format not in ("gray", "color") or not params.last_frame:
            self._calls.cancel(dev)
            raise SaneError(Status.UNSUPPORTED, f"SANE frame format {params.format!r} is not supported")
        self._stream(dev, params, lambda: open_sink(params))
        return params

    def _strips(self, dev: SaneDevice, params: FrameParameters):
        """The frame's raw bytes, a strip of whole rows at a time, each in a buffer of its own."""
        row = max(params.bytes_per_line, 1)
        strip = max(1, FIRST_STRIP_BYTES // row) * row
        frame_left = params.lines * params.bytes_per_line if params.lines > 0 else None
        while True:
            if self._cancel_requested.is_set():
                self._calls.cancel(dev)
                raise SaneError(Status.CANCELLED, "cancelled")
            want = strip
            if frame_left is not None and row < frame_left <= want:
                want = frame_left - row  # the last row comes once the reader thread is done (ScanCalls.let_reader_finish)
            buf = self._strip_buffer(want)
            n = self._calls.read_into(dev, buf)
            if n == 0:
                return
            yield buf[:n]
            strip = max(1, STRIP_BYTES // row) * row
            if frame_left is not None:
                frame_left -= n
                if frame_left == row:
                    self._calls.let_reader_finish()

    def _strip_buffer(self, size: int) -> memoryview:
        """A strip's buffer from a ring kept for the job: fresh 256 KiB buffers for every strip of every page
        kept the allocator busy. A buffer is filled again RING_SIZE strips later, when no strip that old can
        still be in use (STRIPS_IN_FLIGHT wait in the pump, one is being encoded, one is being read)."""
        if not self._ring or len(self._ring[0]) < size:
            self._ring = [bytearray(max(size, STRIP_BYTES)) for _ in range(RING_SIZE)]
        buf = self._ring[self._ring_next]
        self._ring_next = (self._ring_next + 1) % RING_SIZE
        return memoryview(buf)[:size]

    def _stream(self, dev: SaneDevice, params: FrameParameters, open_sink: Callable[[], PageSink],
                combine: Callable[[memoryview], bytes] = lambda strip: strip) -> None:
        strips = self._strips(dev, params)
        first = next(strips, None)
        pump = StripPump(open_sink(), self._encoder)
        try:
            if first is not None:
                pump.put(combine(first))
            for strip in strips:
                pump.put(combine(strip))
        except BaseException:
            pump.abort()
            raise
        pump.finish()

    def _scan_planes(self, dev: SaneDevice, params: FrameParameters,
                     open_sink: Callable[[FrameParameters], PageSink]) -> FrameParameters:
        """A three-pass scanner: red, green and blue come as frames of their own, in any order.

        The first two planes wait in temporary files (two thirds of the page
        on disk, nothing of it in memory); the third is interleaved with them
        strip by strip as it arrives and streams on like any colour frame.
        """
        spooled: dict[str, tempfile.TemporaryFile] = {}
        try:
            while not params.last_frame:
                if params.format not in PLANES or params.format in spooled or len(spooled) == 2:
                    raise SaneError(Status.IO_ERROR, f"unexpected frame {params.format!r} in a three-pass scan")
                spool = tempfile.TemporaryFile(prefix="sane-wsd-plane-")
                spooled[params.format] = spool
                for strip in self._strips(dev, params):
                    spool.write(strip)
                spool.seek(0)
                self._calls.start(dev)
                params = dev.parameters()
            if params.format not in PLANES or params.format in spooled or len(spooled) != 2:
                raise SaneError(Status.IO_ERROR, "a three-pass scan did not deliver three planes")
            log.info("three-pass scan: {mb:.1f} MB of planes held on disk", mb=2 * params.bytes_per_line *
                     max(params.lines, 0) / 1e6)
            files = {**spooled, params.format: None}
            colour = replace(params, format="color", bytes_per_line=params.bytes_per_line * 3)

            def combine(strip: memoryview) -> bytes:
                planes = [strip if files[c] is None else files[c].read(len(strip)) for c in PLANES]
                return interleave(planes, params.depth)

            self._stream(dev, params, lambda: open_sink(colour), combine)
            return colour
        except BaseException:
            self._calls.cancel(dev)
            raise
        finally:
            for spool in spooled.values():
                spool.close()

    def release(self) -> None:
        """sane_cancel and close: the device is free for other SANE users."""
        scanned, self._ring = bool(self._ring), []
        if self._dev is not None:
            dev, self._dev = self._dev, None
            self._calls.close(dev)
        if scanned:
            _give_back_free_memory()


def _daemon_thread(*args, **kwargs) -> threading.Thread:
    """The device thread: a daemon, so that a backend call that never returns (a hung scanner, a SANE reader
    thread deadlocked at its cancel) cannot keep the process from exiting once the reactor has stopped."""
    return threading.Thread(*args, daemon=True, **kwargs)


def _give_back_free_memory() -> None:
    """After a job: glibc keeps what a scan freed (strips, encoder buffers) in its arenas; hand the free
    pages back to the system (a few MiB after a large page; nothing is in use there)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # None: not glibc
"""Looked up once, at import, before SANE runs: ctypes looks a symbol up (dlsym) holding the GIL, and a
SANE reader thread cancelled at the wrong moment can leave the dynamic loader's lock taken, so a lookup
after a scan could freeze the whole process (seen once in 25 cover-open scans under load)."""


def _threads() -> frozenset[str]:
    """The ids of this process's threads, SANE's own included (Linux)."""
    try:
        return frozenset(os.listdir("/proc/self/task"))
    except OSError:
        return frozenset()


def _state(tid: str) -> str | None:
    """A thread's scheduler state (R running, S sleeping, D in I/O, ...); None once it has ended."""
    try:
        with open(f"/proc/self/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(tid: str) -> bool:
    return _state(tid) not in (None, "Z", "X")


def _at_rest(tid: str) -> bool:
    """Gone, or waiting in the kernel for I/O or for time: not running, and not waiting for a lock."""
    state = _state(tid)
    if state in (None, "Z", "X"):
        return True
    if state not in ("S", "D"):
        return False
    try:
        with open(f"/proc/self/task/{tid}/wchan") as f:
            return "futex" not in f.read()
    except OSError:
        return True
