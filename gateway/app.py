"""Wiring: the one place that builds every part, connects them, starts and stops them.

``wsd/``, ``scanner/`` and ``imaging/`` never import each other; this module
hands each the small typed values and callables it needs. Each served
scanner is one ``ServedScanner``: the core's ``Scanner`` and the front ends
built on it (the WSD device, the button watcher), added and removed together.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.web import server

from gateway import __version__, frames_to_files
from gateway.activity import Activity
from gateway.addresses import local_addresses
from gateway.announce import AnnouncerState, AnnouncerStatus
from gateway.config import Settings
from gateway.connections import IDLE_SECONDS, ConnectionLimits, DeadlineRequest
from gateway.escl import dnssd
from gateway.escl.service import ICON_PATH, EsclScanner, FirstScanner
from gateway.netpolicy import EventTargets, NetworkPolicy, os_resolver
from gateway.osevents.network import NetworkWatcher, NetworkWatchUnavailable
from gateway.osevents.usb import HotplugUnavailable, Source, UsbChange, UsbWatcher
from gateway.scanner.buttons import ButtonWatcher
from gateway.scanner.device import Scanner
from gateway.scanner.inventory import ServedDevice, UuidStore, choose, sane_config_dir, usb_port
from gateway.scanner.jobs import RETRIEVE_TIMEOUT
from gateway.scanner.rescan import RescanState, Rescanner
from gateway.scanner.saneapi import DeviceInfo, SaneLibrary
from gateway.scanner.session import enumerate_devices
from gateway.scanner_paths import ScannerPaths
from gateway.web.push import PushResource, ensure_token
from gateway.web.diagnostics import Diagnostics, InterfaceView
from gateway.web.status import ScannerPanel, StatusPage
from gateway.web.testscan import ScanTest
from gateway.wsd.device import WsdDevice
from gateway.wsd.discovery import DiscoveryService
from gateway.wsd.discovery.service import POLL_INTERVAL
from gateway.wsd.eventing import http_poster
from gateway.wsd.metadata import MetadataVersions
from gateway.wsd.push import NoDestination, PendingScan
from gateway.wsd.service import LimitedRequest, RootResource

log = Logger()


class SiteRequest(LimitedRequest, DeadlineRequest):
    """The site's requests: the scan service's size and network limits, and the connection's deadlines."""


class GatewaySite(server.Site):
    """The site; a request a resource marked ``access_logged = False`` (the status page's polling, a browser's
    own question for the icon) is not logged."""

    noisy = False

    def log(self, request):
        if getattr(request, "access_logged", True):
            super().log(request)


def sane_library(settings: Settings, make: Callable[[str], SaneLibrary] | None = None) -> SaneLibrary:
    """The SANE library on the gateway's own SANE configuration (StateFileError if it cannot be written);
    ``make(config_dir)`` builds it (default: the real one)."""
    return (make or SaneLibrary)(sane_config_dir(settings.state_dir, settings.test_device != "no", settings.backends))


@dataclass
class ServedScanner:
    """One scanner being served: the core, and what each front end made of it."""

    scanner: Scanner
    wsd: WsdDevice
    buttons: ButtonWatcher | None = None
    escl: EsclScanner | None = None
    usb_port: str | None = None
    """The USB port it is plugged into (``1-1.2``), for a USB scanner: its unplug event names it."""


class Gateway:
    def __init__(self, settings: Settings, reactor, library: SaneLibrary, retrieve_timeout: float = RETRIEVE_TIMEOUT):
        self.settings = settings
        self.reactor = reactor
        self.library = library
        self.retrieve_timeout = retrieve_timeout
        self.formats = frames_to_files.format_table()
        self.served: dict[str, ServedScanner] = {}
        self.activity = Activity()
        """What the parts that see the network tell the status page (probes, metadata reads, refusals)."""
        self.announcer_status: Callable[[], list[AnnouncerStatus]] | None = self.escl_announcements \
            if settings.escl else None
        """The other discovery protocols' announcers' states (eSCL), for the status page; None: there are none."""
        self.announcer = None
        """The eSCL scanners' mDNS announcer (``escl.avahi.AvahiAnnouncer``), once started."""
        self._running = False
        """start() has run: a scanner added from now on came by hotplug."""
        self._announcer_missing = ""
        self.root = RootResource(StatusPage(settings.port, self.panels, self.diagnostics,
                                            ScanTest(self.cores, settings.state_dir)))
        self.site = GatewaySite(self.root, timeout=IDLE_SECONDS, reactor=reactor)
        self.site.requestFactory = SiteRequest
        self.site.displayTracebacks = False
        self.site.policy = self.policy = NetworkPolicy(settings.interfaces, settings.allowed_networks, settings.ipv6)
        self.root.putChild(b"eSCL", FirstScanner(self._first_escl))
        self.policy.on_refused = self.activity.refused
        self.http = ConnectionLimits(self.site, reactor)
        self.targets = EventTargets(self.policy, os_resolver(reactor), reactor)
        self.post = http_poster(reactor, self.targets.deliverable)
        self.store = UuidStore(settings.state_dir)
        self.versions = MetadataVersions(settings.state_dir)
        self.ports = []
        self.discovery: DiscoveryService | None = None
        self._names_given: dict[str, tuple[str, str]] = {}
        """uuid -> (friendly name, the distinct name it was given): look-alikes keep theirs across re-plugs."""
        self.rescan = Rescanner(reactor, library, self._busy_scanners, self._devices_now)
        self.usb: UsbWatcher | None = None
        self.network: NetworkWatcher | None = None

    # ------------------------------------------------------------ scanners

    @defer.inlineCallbacks
    def find_devices(self):
        """The SANE devices found, and those of them to serve."""
        found = yield enumerate_devices(self.library)
        wanted = choose(found, self.store, self.settings.test_device,
                        [o.pattern for o in self.settings.scanners if not o.enabled])
        return found, wanted

    @defer.inlineCallbacks
    def add_scanner(self, served: ServedDevice):
        """Serve one more scanner: open it, read what it can, and give it to every front end.
        Fires with its ServedScanner, or None when its options cannot be read."""
        info = served.info
        name = self._distinct(self.settings.friendly(info.name, info.vendor, info.model), uuid=served.uuid)
        scanner = Scanner(self.reactor, self.library, served, name=name, formats=self.formats,
                          open_document=frames_to_files.open_document,
                          streams_images=self.settings.image_transfer == "chunked",
                          device_timeout=self.settings.device_timeout, retrieve_timeout=self.retrieve_timeout)
        try:
            yield scanner.load()
        except Exception as e:
            log.error("cannot read the options of {device}: {error}", device=info.name, error=e)
            yield scanner.stop()
            return None
        self._describe(scanner)
        scanner.listen(self.rescan)
        wsd = WsdDevice(self.reactor, scanner, post=self.post, check_target=self.targets.check, versions=self.versions,
                        image_transfer=self.settings.image_transfer, spool_dir=str(self.settings.state_dir),
                        on_metadata_change=self._metadata_changed,
                        on_metadata_fetch=lambda peer: self.activity.metadata_fetched(served.uuid, peer))
        entry = ServedScanner(scanner, wsd, usb_port=usb_port(info.name))
        self.served[served.uuid] = entry
        if self.settings.escl_for(info.name):
            entry.escl = EsclScanner(scanner, image_transfer=self.settings.image_transfer,
                                     spool_dir=str(self.settings.state_dir), on_description_change=self._announce)
            self.root.add(served.uuid, ScannerPaths(wsd.resource, entry.escl.resource))
            if self._running and self.announcer is None and self.settings.discovery:
                # The first eSCL scanner came by hotplug: the announcer starts, and announces every one served.
                self.start_announcer().addErrback(lambda f: log.failure("the eSCL announcer did not start", f))
            else:
                self._announce(entry.escl)
        else:
            self.root.add(served.uuid, wsd.resource)
        entry.buttons = yield self._watch_buttons(scanner)
        if self.discovery is not None:
            self.discovery.device_added(wsd.discoverable(self.url_on))
        log.info("serving {device} ({vendor} {model}) as {name!r} at /{uuid}", device=info.name,
                 vendor=info.vendor, model=info.model, name=name, uuid=served.uuid)
        return entry

    @defer.inlineCallbacks
    def remove_scanner(self, uuid: str, why: str = "the scanner went away"):
        """Stop serving a scanner: its job ends Aborted, subscribers hear SubscriptionEnd, clients a Bye."""
        entry = self.served.pop(uuid, None)
        if entry is None:
            return
        log.info("no longer serving {name}: {why}", name=entry.scanner.name, why=why)
        if entry.buttons is not None:
            entry.buttons.stop()
        self.root.remove(uuid, why)
        if self.discovery is not None:
            self.discovery.device_removed(entry.wsd.discoverable(self.url_on))
        if entry.escl is not None:
            entry.escl.close()
            if self.announcer is not None:
                self.announcer.withdraw(entry.escl.announced())
        stopped = entry.scanner.stop(why)
        yield entry.wsd.close(why)
        yield stopped

    def _distinct(self, name: str, taken: set[str] | None = None, uuid: str | None = None) -> str:
        """Look-alike scanners (two of one model) get "Name (2)", "Name (3)": Windows lists them by name.
        A scanner plugged back in gets the name it had, if that is still free, whichever comes back first."""
        taken = {e.scanner.name.casefold() for e in self.served.values()} if taken is None else taken
        had = self._names_given.get(uuid) if uuid else None
        if had is not None and had[0] == name and had[1].casefold() not in taken:
            return had[1]
        candidate, n = name, 1
        while candidate.casefold() in taken or (n > 1 and self._given_to_another(candidate, uuid)):
            n += 1
            candidate = f"{name} ({n})"
        if uuid:
            self._names_given[uuid] = (name, candidate)
        return candidate

    def _given_to_another(self, candidate: str, uuid: str | None) -> bool:
        """A suffixed name kept for a look-alike that is unplugged now (it gets it back)."""
        return any(u != uuid and given.casefold() == candidate.casefold() for u, (_, given) in self._names_given.items())

    # ------------------------------------------------------------ scanners coming and going

    def _busy_scanners(self) -> list[str]:
        """The scanners whose job runs now: SANE is not started over under them."""
        return [e.scanner.name for e in self.served.values() if not e.scanner.idle()]

    def usb_changed(self, change: UsbChange) -> None:
        """A USB scanner (or, from kernel events, any USB device) was plugged in or out."""
        what = [f"{d} plugged in" for d in change.arrived] + [f"{d} unplugged" for d in change.left]
        if change.lost_events:
            what.append("events were lost")
        # A scanner known to be pulled out goes at once: its job ends (ScannerRemoved) without waiting for
        # SANE to look again, which may be held by other scanners' jobs.
        ports = {d.port_path for d in change.left}
        for uuid, entry in list(self.served.items()):
            if entry.usb_port is not None and entry.usb_port in ports:
                self.remove_scanner(uuid, "the scanner was unplugged").addErrback(
                    lambda f: log.failure("withdrawing an unplugged scanner failed", f))
        self.rescan.request(", ".join(what) or "a USB change")

    @defer.inlineCallbacks
    def _devices_now(self, found: list[DeviceInfo]):
        """After SANE started over: serve the scanners that came, withdraw those that went (and any
        whose SANE name changed, as a re-plugged device's does, is served again under its UUID)."""
        wanted = {d.uuid: d for d in choose(found, self.store, self.settings.test_device,
                                            [o.pattern for o in self.settings.scanners if not o.enabled])}
        for uuid, entry in list(self.served.items()):
            now = wanted.get(uuid)
            if now is None:
                yield self.remove_scanner(uuid, "the scanner was unplugged")
            elif now.info.name != entry.scanner.identity.device:
                yield self.remove_scanner(uuid, f"it is now {now.info.name}")
        for uuid, served in wanted.items():
            if uuid not in self.served:
                yield self.add_scanner(served)

    def start_usb_hotplug(self) -> None:
        """Watch USB (``usb_hotplug``): a scanner plugged in is served, one pulled out withdrawn."""
        if self.settings.usb_hotplug == "off":
            log.info("usb_hotplug = off: scanners are looked for at start only")
            return
        source = None if self.settings.usb_hotplug == "auto" else Source(self.settings.usb_hotplug)
        watcher = UsbWatcher(self.usb_changed, reactor=self.reactor, source=source)
        try:
            watcher.start()
        except HotplugUnavailable as e:
            log.warn("USB hotplug is not available ({error}): restart the gateway after plugging a scanner in "
                     "or out", error=e)
            return
        self.usb = watcher

    @defer.inlineCallbacks
    def _watch_buttons(self, scanner: Scanner):
        """Poll the scanner's buttons and cover sensor, if its backend has any."""
        if self.settings.button_poll_interval <= 0:
            return None
        sensors = yield scanner.read_sensors()
        if not sensors:
            return None
        log.info("{scanner} has buttons or sensors: {names}", scanner=scanner.name, names=", ".join(sorted(sensors)))

        def pressed(_button: str) -> None:
            try:
                self.push_scan(scanner.uuid, None)
            except NoDestination as e:
                log.warn("scan button pressed on {scanner}, but {why}", scanner=scanner.name, why=e)

        def idle() -> bool:  # and SANE is not about to start over (a sensor read would hold it back)
            return scanner.idle() and self.rescan.state is RescanState.IDLE
        watcher = ButtonWatcher(scanner.name, scanner.read_sensors, idle, self.settings.button_poll_interval,
                                pressed, scanner.cover_changed)
        watcher.start()
        return watcher

    def _describe(self, scanner: Scanner) -> bool:
        """Name, location and description from the settings; True when they changed."""
        info = scanner.identity
        override = self.settings.override_for(info.device)
        others = {e.scanner.name.casefold() for e in self.served.values() if e.scanner is not scanner}
        return scanner.describe(self._distinct(self.settings.friendly(info.device, info.vendor, info.model), others,
                                               uuid=scanner.uuid),
                                location=(override and override.location) or self.settings.location,
                                info=(override and override.info) or "")

    def _metadata_changed(self, wsd: WsdDevice) -> None:
        if self.discovery is not None:
            self.discovery.device_changed(wsd.discoverable(self.url_on))

    def reload(self, settings: Settings) -> None:
        """SIGHUP: names, locations and push settings from the config again; clients hear of changes."""
        self.settings = replace(self.settings, friendly_name=settings.friendly_name, location=settings.location,
                                scanners=settings.scanners, push_destination=settings.push_destination)
        for entry in self.served.values():
            self._describe(entry.scanner)

    def find_scanner(self, key: str) -> ServedScanner | None:
        """A scanner by UUID, SANE name or friendly name (case-insensitive)."""
        for entry in self.served.values():
            scanner = entry.scanner
            if key in (scanner.uuid, scanner.identity.device) or key.casefold() == scanner.name.casefold():
                return entry
        return None

    def push_scan(self, scanner_key: str | None, destination: str | None) -> PendingScan:
        """Offer a scan started at the device to the chosen PC (ScanAvailableEvent)."""
        entry = self.find_scanner(scanner_key) if scanner_key else next(iter(self.served.values()), None)
        if entry is None:
            raise NoDestination(f"no scanner {scanner_key!r}")
        return entry.wsd.push.announce(destination or self.settings.push_destination or None)

    def panels(self) -> list[ScannerPanel]:
        """What the status page shows of each scanner."""
        return [self._panel(entry) for entry in self.served.values()]

    def _panel(self, entry: ServedScanner) -> ScannerPanel:
        scanner, subscribers = entry.scanner, entry.wsd.subscribers()
        return ScannerPanel(
            name=scanner.name, device=scanner.identity.device, endpoint=f"urn:uuid:{scanner.uuid}",
            status=scanner.status(), sources=tuple(s.value for s in scanner.capabilities.sources()),
            formats=scanner.capabilities.formats, subscriptions=subscribers.count, subscribers=subscribers.peers,
            destinations=subscribers.destinations, jobs=tuple(scanner.active_jobs() + scanner.job_history()),
            uuid=scanner.uuid, last_fetch=self.activity.last_fetch(scanner.uuid))

    def cores(self) -> dict[str, Scanner]:
        """Every served scanner's core by UUID: what the status page's test scan drives."""
        return {uuid: entry.scanner for uuid, entry in self.served.items()}

    def diagnostics(self) -> Diagnostics:
        """What the status page shows of the network: per interface the addresses announced (or, with discovery
        off, those it has) and the last probe seen there; the refused clients; the other announcers."""
        try:
            present = local_addresses(self.settings.interfaces or None, self.settings.ipv6)
        except Exception:  # netifaces failing must not take the page down
            present = frozenset()
        announced = self.discovery.addresses if self.discovery is not None else present
        by_name: dict[str, list[str]] = {name: [] for name in self.settings.interfaces}
        missing: dict[str, list[str]] = {}
        for local in sorted(announced | present, key=lambda a: (a.ifname, a.family, a.address)):
            (by_name if local in announced else missing).setdefault(local.ifname, []).append(local.address)
            by_name.setdefault(local.ifname, [])
        interfaces = tuple(InterfaceView(name, tuple(found), self.activity.last_probe(name),
                                         tuple(missing.get(name, ())))
                           for name, found in by_name.items())
        announcers = None if self.announcer_status is None else tuple(self.announcer_status())
        return Diagnostics(port=self.settings.port, discovery=self.discovery is not None, interfaces=interfaces,
                           refusals=self.activity.refusals(), announcers=announcers,
                           allowed_networks=self.settings.allowed_networks)

    # ------------------------------------------------------------ the network

    def listen(self) -> None:
        """Every address, IPv6 and IPv4 on one socket: addresses that come later (DHCP, IPv6 link-local)
        work at once, and the policy turns away clients of interfaces that are not served."""
        wildcard = "::" if self.settings.ipv6 and socket.has_ipv6 else "0.0.0.0"
        try:
            self.ports.append(self.reactor.listenTCP(self.settings.port, self.http, interface=wildcard))
        except CannotListenError as e:
            if wildcard != "::" or getattr(e.socketError, "errno", None) not in (errno.EAFNOSUPPORT,
                                                                                  errno.EADDRNOTAVAIL):
                raise
            log.info("no IPv6 ({error}); listening on IPv4 only", error=e)
            self.ports.append(self.reactor.listenTCP(self.settings.port, self.http, interface="0.0.0.0"))

    # ------------------------------------------------------------ eSCL and its announcement

    def _first_escl(self) -> EsclScanner | None:
        """The scanner served at ``/eSCL`` too: the first one served over eSCL."""
        return next((e.escl for e in self.served.values() if e.escl is not None), None)

    def _announce(self, escl: EsclScanner) -> None:
        if self.announcer is not None:
            self.announcer.announce(escl.announced())

    def escl_record(self, scanner, host: str) -> dnssd.ServiceRecord:
        """The mDNS record of an eSCL scanner; ``host`` is avahi's host name (pi.local) for its URLs."""
        base = f"http://{host}:{self.settings.port}"
        root = f"/{scanner.uuid}/eSCL"
        return dnssd.service_record(scanner, self.settings.port, root, admin_url=f"{base}/",
                                    icon_url=f"{base}{root}/{ICON_PATH}")

    def start_announcer(self):
        """Announce the eSCL scanners through avahi-daemon; without txdbus or avahi, one log line and WSD only."""
        try:
            from gateway.escl.avahi import AvahiAnnouncer
        except ImportError as e:
            self._announcer_missing = (f"eSCL: the scanners are not announced by mDNS: {e} (install python3-txdbus); "
                                       "WSD is not affected")
            log.warn("{line}", line=self._announcer_missing)
            return defer.succeed(None)
        self.announcer = AvahiAnnouncer(self.reactor, self.escl_record, interfaces=self.settings.interfaces,
                                        ipv6=self.settings.ipv6)
        for entry in self.served.values():
            if entry.escl is not None:
                self.announcer.announce(entry.escl.announced())
        return self.announcer.start()

    def escl_announcements(self) -> list[AnnouncerStatus]:
        """The eSCL announcer's state for the status page (none while it is not started: discovery is off)."""
        if self.announcer is not None:
            return [self.announcer.status()]
        if self._announcer_missing:
            return [AnnouncerStatus("eSCL (mDNS)", AnnouncerState.UNAVAILABLE, self._announcer_missing)]
        return []

    def url_on(self, host: str, uuid: str) -> str:
        literal = f"[{host}]" if ":" in host else host
        return f"http://{literal}:{self.settings.port}/{uuid}"

    def start_discovery(self) -> None:
        """WS-Discovery on every address; netlink tells of addresses that come and go (polling for them
        every few seconds only where netlink cannot be had)."""
        watcher = NetworkWatcher(self._network_changed, reactor=self.reactor, ipv6=self.settings.ipv6)
        try:
            watcher.start().addErrback(lambda f: None)
            self.network = watcher
        except NetworkWatchUnavailable as e:
            log.warn("{error}: interface addresses are read again every {s:.0f} s instead", error=e, s=POLL_INTERVAL)
        self.discovery = DiscoveryService(lambda: [e.wsd.discoverable(self.url_on) for e in self.served.values()],
                                          interfaces=self.settings.interfaces or None,
                                          ipv6=self.settings.ipv6, reactor=self.reactor,
                                          allowed_networks=self.settings.allowed_networks,
                                          poll_interval=None if self.network is not None else POLL_INTERVAL,
                                          on_probe=self.activity.probe_seen)
        self.discovery.startService()

    def _network_changed(self, _change) -> None:
        if self.discovery is not None:
            self.discovery.addresses_changed()

    # ------------------------------------------------------------ start and stop

    @defer.inlineCallbacks
    def start(self):
        self.listen()  # first: a port in use is said before any scanner is opened (slow backends take seconds)
        found, wanted = yield self.find_devices()
        if not found:
            log.warn("SANE found no scanner")
        if wanted and all(d.is_test for d in wanted) and self.settings.test_device == "auto":
            log.warn("no real scanner found: serving SANE's test device instead "
                     "(set test_device = no in the config to turn this off)")
        for served in wanted:
            yield self.add_scanner(served)
        self.root.putChild(b"push", PushResource(lambda s, d: self.push_scan(s, d).destination,
                                                 ensure_token(self.settings.state_dir)))
        if self.settings.discovery:
            self.start_discovery()
        if self.settings.discovery and any(e.escl is not None for e in self.served.values()):
            self.start_announcer()  # never fails; avahi's absence is a state the status page shows
        self.start_usb_hotplug()
        self._running = True
        log.info("sane-wsd-gateway {version} serving {n} scanner(s) on port {port}",
                 version=__version__, n=len(self.served), port=self.settings.port)

    @defer.inlineCallbacks
    def stop(self):
        self.rescan.stop()
        for watcher in (self.usb, self.network):
            if watcher is not None:
                watcher.stop()
        for entry in self.served.values():
            if entry.buttons is not None:
                entry.buttons.stop()
        ends = [entry.wsd.close() for entry in self.served.values()]
        if self.discovery is not None:
            yield self.discovery.stopService()
        if self.announcer is not None:
            yield self.announcer.stop()
        yield defer.DeferredList(ends)
        for port in self.ports:
            yield port.stopListening()
        yield defer.DeferredList([entry.scanner.stop() for entry in self.served.values()])
