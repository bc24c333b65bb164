"""Wiring: the one place that builds every part and connects them.

``wsd/``, ``scanner/`` and ``imaging/`` never import each other; this module
hands each the small typed values and callables it needs.
"""

from __future__ import annotations

import errno
import hashlib
import socket
from dataclasses import dataclass, replace

from twisted.internet import defer, threads
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.web import server

from gateway import __version__, frames_to_files
from gateway.config import Settings
from gateway.model import words
from gateway.connections import IDLE_SECONDS, ConnectionLimits, DeadlineRequest
from gateway.scanner.buttons import ButtonWatcher, read_sensors
from gateway.scanner.device import Scanner
from gateway.scanner.devices import MetadataVersions, ServedDevice, UuidStore, choose, sane_config_dir
from gateway.scanner.saneapi import SaneLibrary
from gateway.netpolicy import EventTargets, NetworkPolicy, os_resolver
from gateway.web.push import PushResource, ensure_token
from gateway.web.status import StatusPage
from gateway.wsd import namespaces as ns
from gateway.wsd.discovery import DiscoverableDevice, DiscoveryService
from gateway.wsd import scan_messages as msg
from gateway.wsd.eventing import STATUS_SHUTTING_DOWN, EventSource, http_poster
from gateway.wsd.metadata import DeviceMetadata
from gateway.wsd.push import NoDestination, PushScans
from gateway.wsd.service import DeviceResource, LimitedRequest, RootResource

log = Logger()


class SiteRequest(LimitedRequest, DeadlineRequest):
    """The site's requests: the scan service's size and network limits, and the connection's deadlines."""


@dataclass
class Gateway:
    settings: Settings
    reactor: object

    def __post_init__(self):
        self.scanners: dict[str, Scanner] = {}
        self.status_page = StatusPage(self)
        self.root = RootResource(self.status_page)
        self.root.putChild(b"push", PushResource(self, ensure_token(self.settings.state_dir)))
        self.site = server.Site(self.root, timeout=IDLE_SECONDS, reactor=self.reactor)
        self.site.requestFactory = SiteRequest
        self.http = ConnectionLimits(self.site, self.reactor)
        self.site.displayTracebacks = False
        self.site.policy = self.policy = NetworkPolicy(self.settings.interfaces, self.settings.allowed_networks,
                                                       self.settings.ipv6)
        self.ports = []
        self.discovery = None
        self.events: dict[str, EventSource] = {}
        self.watchers: list[ButtonWatcher] = []
        self.push: dict[str, PushScans] = {}
        self.last_status: dict = {}
        self.targets = EventTargets(self.policy, os_resolver(self.reactor), self.reactor)
        self.post = http_poster(self.reactor, self.targets.deliverable)
        self.library = SaneLibrary(sane_config_dir(self.settings.state_dir, self.settings.test_device != "no",
                                                   self.settings.backends))
        self.store = UuidStore(self.settings.state_dir)
        self.versions = MetadataVersions(self.settings.state_dir)

    def find_devices(self) -> defer.Deferred:
        """Enumerate SANE devices off the reactor (backends may probe USB for seconds)."""
        def enumerate_():
            found = self.library.devices()
            wanted = choose(found, self.store, self.settings.test_device,
                            [o.pattern for o in self.settings.scanners if not o.enabled])
            return found, wanted
        return threads.deferToThread(enumerate_)

    @defer.inlineCallbacks
    def start(self):
        found, wanted = yield self.find_devices()
        if not found:
            log.warn("SANE found no scanner")
        if wanted and all(d.is_test for d in wanted) and self.settings.test_device == "auto":
            log.warn("no real scanner found: serving SANE's test device instead "
                     "(set test_device = no in the config to turn this off)")
        for served in wanted:
            yield self.add_scanner(served)
        self.listen()
        if self.settings.discovery:
            self.start_discovery()
        log.info("sane-wsd-gateway {version} serving {n} scanner(s) on port {port}",
                 version=__version__, n=len(self.scanners), port=self.settings.port)

    @defer.inlineCallbacks
    def add_scanner(self, served: ServedDevice):
        info = served.info
        name = self.settings.friendly(info.name, info.vendor, info.model)
        scanner = Scanner(
            self.reactor, self.library, info, uuid=served.uuid, name=name, formats=frames_to_files.format_table(),
            open_document=frames_to_files.open_document,
            on_job_change=self._job_changed, on_status_change=self._status_changed,
            device_timeout=self.settings.device_timeout,
            streams_images=self.settings.image_transfer == "chunked",
        )
        try:
            yield scanner.load()
        except Exception as e:
            log.error("cannot read the options of {device}: {error}", device=info.name, error=e)
            scanner.stop()
            return
        scanner.served = served
        self.describe(scanner)
        self.scanners[served.uuid] = scanner
        events = EventSource(self.reactor, self.post, frozenset(ns.scan_action(e) for e in ns.SCAN_EVENTS), name,
                             check_target=self.targets.check)
        self.events[served.uuid] = events
        self.push[served.uuid] = PushScans(self.reactor, events)
        self.last_status[served.uuid] = scanner.scanner_status()
        self.root.add(DeviceResource(scanner, events, self.push[served.uuid],
                                     image_transfer=self.settings.image_transfer,
                                     spool_dir=str(self.settings.state_dir)))
        yield self.watch_buttons(scanner)
        log.info("serving {device} ({vendor} {model}) as {name!r} at /{uuid}", device=info.name,
                 vendor=info.vendor, model=info.model, name=name, uuid=served.uuid)

    @defer.inlineCallbacks
    def watch_buttons(self, scanner: Scanner):
        """Poll the scanner's buttons and cover sensor, if its backend has any."""
        if self.settings.button_poll_interval <= 0:
            return
        sensors = yield scanner.session.run(scanner.session.probe, read_sensors)
        if not sensors:
            return
        log.info("{scanner} has buttons or sensors: {names}", scanner=scanner.name, names=", ".join(sorted(sensors)))

        def pressed(_button: str) -> None:
            try:
                self.push_scan(scanner.uuid, None)
            except NoDestination as e:
                log.warn("scan button pressed on {scanner}, but {why}", scanner=scanner.name, why=e)

        watcher = ButtonWatcher(scanner, self.settings.button_poll_interval, pressed, scanner.status.cover)
        self.watchers.append(watcher)
        watcher.start()

    def describe(self, scanner: Scanner) -> bool:
        """Name, location and metadata from the settings; True when they changed (MetadataVersion rose)."""
        info, served = scanner.info, scanner.served
        override = self.settings.override_for(info.name)
        scanner.name = self.settings.friendly(info.name, info.vendor, info.model)
        scanner.capabilities = replace(scanner.capabilities, name=scanner.name,
                                       location=(override and override.location) or self.settings.location,
                                       info=(override and override.info) or "")
        scanner.metadata = DeviceMetadata(
            endpoint=f"urn:uuid:{served.uuid}", friendly_name=scanner.name, manufacturer=info.vendor,
            model_name=info.model, serial=served.identity, firmware=f"sane-wsd-gateway {__version__}",
        )
        old = getattr(scanner, "metadata_version", None)
        scanner.metadata_version = self.versions.version(
            served.uuid, hashlib.sha256(repr((scanner.metadata, scanner.capabilities)).encode()).hexdigest())
        return old is not None and old != scanner.metadata_version

    def reload(self, settings: Settings) -> None:
        """SIGHUP: names, locations and push settings from the config again; clients hear of changes."""
        self.settings = replace(self.settings, friendly_name=settings.friendly_name, location=settings.location,
                                scanners=settings.scanners, push_destination=settings.push_destination)
        for scanner in self.scanners.values():
            if self.describe(scanner):
                log.info("{scanner}: description changed, telling subscribers", scanner=scanner.name)
                events = self.events[scanner.uuid]
                events.name = scanner.name
                caps, defaults = scanner.capabilities, scanner.default_parameters
                events.notify(ns.scan_action("ScannerElementsChangeEvent"),
                              lambda: msg.elements_change_event(caps, defaults))
                if self.discovery is not None:
                    self.discovery.device_changed(self.discoverable_device(scanner))

    def _job_changed(self, scanner: Scanner, job) -> None:
        events = self.events.get(scanner.uuid)
        if events is not None:
            snapshot = job.snapshot()
            events.notify(ns.scan_action("JobStatusEvent"), lambda: msg.job_status_event(snapshot))
            if job.state.ended:
                events.notify(ns.scan_action("JobEndStateEvent"), lambda: msg.job_end_state_event(snapshot))
        if job.state.ended:
            log.info("job {job} on {scanner} ended: {state} ({reasons}), {n} image(s)", job=job.id,
                     scanner=scanner.name, state=job.state.value, reasons=words(job.reasons),
                     n=job.scans_completed)

    def _status_changed(self, scanner: Scanner) -> None:
        """ScannerStatus changed: tell subscribers what changed, as the WSD Scan events split it."""
        events = self.events.get(scanner.uuid)
        if events is None:
            return
        old, new = self.last_status[scanner.uuid], scanner.scanner_status()
        self.last_status[scanner.uuid] = new
        if (old.state, old.reasons) != (new.state, new.reasons):
            log.info("{scanner} is {state} ({reasons})", scanner=scanner.name, state=new.state.value,
                     reasons=words(new.reasons))
        for name, body in msg.status_change_events(old, new):
            events.notify(ns.scan_action(name), body)

    def find_scanner(self, key: str) -> Scanner | None:
        """A scanner by UUID, SANE name or friendly name (case-insensitive)."""
        for scanner in self.scanners.values():
            if key in (scanner.uuid, scanner.info.name) or key.casefold() == scanner.name.casefold():
                return scanner
        return None

    def push_scan(self, scanner_key: str | None, destination: str | None):
        """Offer a scan started at the device to the chosen PC (ScanAvailableEvent)."""
        scanner = self.find_scanner(scanner_key) if scanner_key else next(iter(self.scanners.values()), None)
        if scanner is None:
            raise NoDestination(f"no scanner {scanner_key!r}")
        return self.push[scanner.uuid].announce(destination or self.settings.push_destination or None)

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

    def url_on(self, host: str, uuid: str) -> str:
        literal = f"[{host}]" if ":" in host else host
        return f"http://{literal}:{self.settings.port}/{uuid}"

    def discoverable_device(self, scanner: Scanner) -> DiscoverableDevice:
        return DiscoverableDevice(
            endpoint=f"urn:uuid:{scanner.uuid}",
            types=(ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE),
            scopes=(),
            metadata_version=scanner.metadata_version,
            xaddr=lambda host, uuid=scanner.uuid: self.url_on(host, uuid),
        )

    def discoverable(self):
        return [self.discoverable_device(s) for s in self.scanners.values()]

    def start_discovery(self) -> None:
        self.discovery = DiscoveryService(self.discoverable,
                                          interfaces=self.settings.interfaces or None,
                                          ipv6=self.settings.ipv6, reactor=self.reactor,
                                          allowed_networks=self.settings.allowed_networks)
        self.discovery.startService()

    @defer.inlineCallbacks
    def stop(self):
        for watcher in self.watchers:
            watcher.stop()
        ends = [events.end_all(STATUS_SHUTTING_DOWN, "the gateway is stopping") for events in self.events.values()]
        if self.discovery is not None:
            yield self.discovery.stopService()
        yield defer.DeferredList(ends)
        for port in self.ports:
            yield port.stopListening()
        for scanner in self.scanners.values():
            scanner.stop()
