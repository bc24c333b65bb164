"""USB devices plugged in and pulled out, from udev's netlink broadcasts, on the reactor.

Most SANE backends see a new USB scanner only after a full sane_exit and
sane_init, so the gateway needs to be told when one arrives or leaves; this
module tells it, and nothing more. It listens to udev (after udevd has run
its rules, so libsane's ``libsane_matched`` mark says which devices are
scanners) or, where no udevd runs (a container), to the kernel's own events,
which carry no such mark: every USB device then counts. Only whole devices
(``usb_device``) are watched: opening a scanner makes the kernel bind and
unbind its *interfaces*, and those must not trigger a rescan of their own.

The socket is read on the reactor (``IReadDescriptor``), a bounded number of
events per wake-up, and a burst (``add`` then ``bind``; a hub with several
devices) is handed over once, ``SETTLE`` seconds after it went quiet.
"""

from __future__ import annotations

import enum
import errno
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from twisted.internet import error
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from gateway.osevents.settle import Settler

log = Logger()

UDEV_CONTROL = Path("/run/udev/control")
"""udevd's control socket: it exists while udevd runs (libudev itself tests for it)."""

SETTLE = 1.0
"""Seconds of quiet after a plug before it is reported: the kernel's ``bind`` (the device configured,
which sanei_usb needs before it lists the device) follows ``add``; AirSane waits 1 s as well."""

MAX_EVENTS_PER_READ = 64
"""Events taken per wake-up of the reactor; the rest wait for the next one (the socket stays readable)."""


class Source(enum.Enum):
    """Where the events come from."""

    UDEV = "udev"
    """After udevd's rules: ID_VENDOR_ID, ID_SERIAL_SHORT and libsane's scanner mark are known."""
    KERNEL = "kernel"
    """The kernel's raw uevents, where no udevd runs: no marks, so every USB device counts."""


def choose_source(control: Path = UDEV_CONTROL) -> Source:
    """udev where udevd runs, else the kernel: without udevd nobody rebroadcasts, and in a container
    libudev would not even join udev's group."""
    return Source.UDEV if control.exists() else Source.KERNEL


class UsbAction(enum.Enum):
    ADD = "add"
    BIND = "bind"
    """The generic driver took the device (its configuration is set): now SANE can list it."""
    REMOVE = "remove"

    @property
    def arrival(self) -> bool:
        return self is not UsbAction.REMOVE


@dataclass(frozen=True)
class UsbDevice:
    """One USB device as its uevent names it; ``port_path`` (``1-1.2``) stays the same across re-plugs
    into the same port, ``devnum`` does not."""

    devpath: str
    port_path: str
    busnum: int | None = None
    devnum: int | None = None
    vendor_id: str | None = None
    """Four lower-case hex digits, as in ``lsusb``."""
    product_id: str | None = None
    serial: str | None = None

    def __str__(self) -> str:
        ids = f"{self.vendor_id}:{self.product_id}" if self.vendor_id and self.product_id else "ids unknown"
        serial = f", serial {self.serial}" if self.serial else ""
        return f"{self.port_path} ({ids}{serial})"


@dataclass(frozen=True)
class UsbEvent:
    action: UsbAction
    device: UsbDevice
    scanner: bool | None
    """libsane's udev rules marked it as a scanner (True), did not (False), or nobody can tell (None:
    the kernel's events, or a removal whose mark udev did not keep)."""


@dataclass(frozen=True)
class UsbChange:
    """One settled burst: what the gateway acts on (by asking SANE again)."""

    events: tuple[UsbEvent, ...]
    lost_events: bool = False
    """The receive buffer overflowed: some events were dropped, so anything may have changed."""

    def _last_by_device(self) -> dict[str, UsbEvent]:
        last: dict[str, UsbEvent] = {}
        for event in self.events:
            last.pop(event.device.devpath, None)
            last[event.device.devpath] = event
        return last

    @property
    def arrived(self) -> tuple[UsbDevice, ...]:
        """Devices present at the end of the burst that were plugged in during it."""
        return tuple(e.device for e in self._last_by_device().values() if e.action.arrival)

    @property
    def left(self) -> tuple[UsbDevice, ...]:
        return tuple(e.device for e in self._last_by_device().values() if not e.action.arrival)


def _hex4(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return f"{int(text, 16):04x}"
    except ValueError:
        return None


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def read_device(properties: Mapping[str, str]) -> UsbDevice | None:
    """The device a uevent's properties describe, or None if it is not a whole USB device."""
    if properties.get("SUBSYSTEM") != "usb" or properties.get("DEVTYPE") != "usb_device":
        return None
    devpath = properties.get("DEVPATH")
    if not devpath:
        return None
    vendor, product = properties.get("ID_VENDOR_ID"), properties.get("ID_MODEL_ID")
    if not (vendor and product):
        # The kernel's own PRODUCT=vid/pid/bcd, in unpadded hex: all a kernel-source event has.
        parts = properties.get("PRODUCT", "").split("/")
        vendor, product = (parts[0], parts[1]) if len(parts) >= 2 else (None, None)
    return UsbDevice(devpath=devpath, port_path=devpath.rstrip("/").rsplit("/", 1)[-1],
                     busnum=_number(properties.get("BUSNUM")), devnum=_number(properties.get("DEVNUM")),
                     vendor_id=_hex4(vendor), product_id=_hex4(product),
                     serial=properties.get("ID_SERIAL_SHORT") or None)


def read_event(properties: Mapping[str, str], marked: bool) -> UsbEvent | None:
    """A uevent of interest (add, bind or remove of a whole USB device), or None.

    ``marked``: the events come from udev, so an arrival without libsane's mark
    is known not to be a scanner. Removals are never taken as "not a scanner":
    udev does not always keep the marks in a remove event.
    """
    try:
        action = UsbAction(properties.get("ACTION"))
    except ValueError:
        return None
    device = read_device(properties)
    if device is None:
        return None
    if properties.get("libsane_matched") == "yes":
        scanner: bool | None = True
    elif marked and action.arrival:
        scanner = False
    else:
        scanner = None
    return UsbEvent(action, device, scanner)


class UeventSource(Protocol):
    """The operating-system boundary: a netlink socket of uevents (pyudev's, or a test's fake)."""

    kind: Source

    def fileno(self) -> int: ...

    def receive(self) -> Mapping[str, str] | None:
        """The next event's properties, None when none is queued; never blocks. May raise OSError."""

    def present(self) -> Iterable[Mapping[str, str]]:
        """The properties of the USB devices present now (udev's database)."""

    def close(self) -> None: ...


class HotplugUnavailable(Exception):
    """USB events cannot be watched here; scanners plugged in later are found only after a restart."""


class PyudevSource:
    """udev's monitor socket through Debian's python3-pyudev, filtered in the kernel to USB devices."""

    def __init__(self, kind: Source):
        try:
            import pyudev
        except ImportError as e:
            raise HotplugUnavailable(f"python3-pyudev is not installed ({e})") from None
        self.kind = kind
        try:
            self._context = pyudev.Context()
            self._monitor = pyudev.Monitor.from_netlink(self._context, source=kind.value)
            self._monitor.filter_by("usb", device_type="usb_device")
            self._monitor.start()
        except (OSError, ValueError) as e:
            raise HotplugUnavailable(f"cannot listen to {kind.value} events: {e}") from None

    def fileno(self) -> int:
        return self._monitor.fileno() if self._monitor is not None else -1

    def receive(self) -> Mapping[str, str] | None:
        device = self._monitor.poll(timeout=0)
        return dict(device.properties) if device is not None else None

    def present(self) -> Iterable[Mapping[str, str]]:
        for device in self._context.list_devices(subsystem="usb", DEVTYPE="usb_device"):
            yield dict(device.properties)

    def close(self) -> None:
        self._monitor = None  # pyudev closes the socket with its last reference


@implementer(IReadDescriptor)
class UsbWatcher:
    """Calls ``on_change(UsbChange)`` on the reactor when scanners (or, without udev, any USB
    devices) are plugged in or pulled out."""

    def __init__(self, on_change: Callable[[UsbChange], None], *, reactor=None, source: Source | None = None,
                 open_source: Callable[[Source], UeventSource] = PyudevSource, settle: float = SETTLE,
                 udev_control: Path = UDEV_CONTROL):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._on_change = on_change
        self._kind = source
        self._open_source = open_source
        self._udev_control = udev_control
        self._source: UeventSource | None = None
        self._scanner: dict[str, bool | None] = {}
        """What each present device's arrival said about it, by devpath: a removal is recognised by it."""
        self._lost = False
        self._settler: Settler[UsbEvent | None] = Settler(reactor, self._deliver, settle)

    @property
    def watching(self) -> Source | None:
        return self._source.kind if self._source is not None else None

    def start(self) -> Source:
        """Open the socket and start reading; raises HotplugUnavailable with the reason."""
        if self._source is not None:
            return self._source.kind
        kind = self._kind or choose_source(self._udev_control)
        self._source = self._open_source(kind)
        if kind is Source.UDEV:
            # Once, at start (a few sysfs and udev-database reads): which devices present now are
            # scanners, so that pulling out anything else does not make SANE start over.
            try:
                for properties in self._source.present():
                    device = read_device(properties)
                    if device is not None:
                        self._scanner[device.devpath] = properties.get("libsane_matched") == "yes"
            except OSError as e:
                log.warn("could not list the USB devices present: {error}", error=e)
        self._reactor.addReader(self)
        if kind is Source.UDEV:
            log.info("watching USB devices through udev: a scanner plugged in or out is served or withdrawn "
                     "without a restart")
        else:
            log.info("watching USB devices through the kernel's events (no udevd runs here, so scanners "
                     "cannot be told from other devices: any USB device plugged in or out makes SANE look again)")
        return kind

    def stop(self) -> None:
        if self._source is None:
            return
        self._reactor.removeReader(self)
        self._settler.cancel()
        source, self._source = self._source, None
        source.close()

    # IReadDescriptor

    def fileno(self) -> int:
        return self._source.fileno() if self._source is not None else -1

    def logPrefix(self) -> str:
        return "usb-hotplug"

    def doRead(self) -> None:
        for _ in range(MAX_EVENTS_PER_READ):
            try:
                properties = self._source.receive() if self._source is not None else None
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    log.warn("USB events were lost (receive buffer full): SANE will look again for all scanners")
                    self._lost = True
                    self._settler.add(None)
                    continue
                self._failed(e)
                return
            if properties is None:
                return
            event = read_event(properties, marked=self._source.kind is Source.UDEV)
            if event is not None:
                self._take(event)

    def connectionLost(self, reason: Failure) -> None:
        """The reactor let go of the socket: at its shutdown (quietly), or because doRead raised."""
        if reason.check(error.ConnectionDone, error.ConnectionLost):
            self.stop()
        elif self._source is not None:
            self._failed(reason.value)

    def _failed(self, error: BaseException) -> None:
        log.error("USB hotplug stopped ({error}): scanners plugged in or out from now on are noticed only "
                  "after a restart of the gateway", error=error)
        self.stop()

    def _take(self, event: UsbEvent) -> None:
        devpath = event.device.devpath
        if event.action.arrival:
            known = self._scanner.get(devpath)
            if event.scanner is False and known is not True:
                if event.action is UsbAction.ADD:
                    log.info("USB device {device} plugged in: not marked as a scanner by libsane's udev rules, "
                             "so SANE is not asked again", device=event.device)
                self._scanner[devpath] = False
                return
            if known is True and not event.scanner:
                event = UsbEvent(event.action, event.device, True)  # a bind without the mark its add had
            self._scanner[devpath] = event.scanner
        else:
            was = self._scanner.pop(devpath, None)
            if was is False and not event.scanner:
                return
            if was and not event.scanner:
                event = UsbEvent(event.action, event.device, True)
        self._settler.add(event)

    def _deliver(self, items: tuple[UsbEvent | None, ...]) -> None:
        change = UsbChange(tuple(e for e in items if e is not None), lost_events=self._lost)
        self._lost = False
        what = "scanner" if self.watching is Source.UDEV else "device"
        for device in change.arrived:
            log.info("USB {what} plugged in: {device}", what=what, device=device)
        for device in change.left:
            log.info("USB {what} unplugged: {device}", what=what, device=device)
        self._on_change(change)
