"""Wiring: the one place that builds every part and connects them.

``wsd/``, ``scanner/`` and ``imaging/`` never import each other; this module
hands each the small typed values and callables it needs.
"""

from __future__ import annotations

import errno
import hashlib
import socket
from dataclasses import dataclass, replace

import netifaces
from twisted.internet import defer, threads
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.web import server

from gateway import __version__, image_path
from gateway.config import Settings
from gateway.scanner.device import Scanner
from gateway.scanner.devices import MetadataVersions, ServedDevice, UuidStore, choose, sane_config_dir
from gateway.scanner.saneapi import SaneLibrary
from gateway.web.status import StatusPage
from gateway.wsd import namespaces as ns
from gateway.wsd.discovery import DiscoverableDevice, DiscoveryService
from gateway.wsd.metadata import DeviceMetadata
from gateway.wsd.service import DeviceResource, LimitedRequest, RootResource

log = Logger()


def interface_addresses(names: tuple[str, ...], ipv6: bool) -> list[str]:
    """The addresses to listen on for the named interfaces ('' = every address)."""
    found = []
    for name in names:
        try:
            addrs = netifaces.ifaddresses(name)
        except ValueError:
            log.warn("interface {name} does not exist", name=name)
            continue
        found += [a["addr"] for a in addrs.get(netifaces.AF_INET, [])]
        if ipv6:
            found += [a["addr"] for a in addrs.get(netifaces.AF_INET6, []) if "%" not in a["addr"]]
    return found


def write_sane_config(settings: Settings) -> str:
    """SANE_CONFIG_DIR for this run: the configured backends, or the system's (plus ``test`` unless off)."""
    config_dir = sane_config_dir(settings.state_dir, settings.test_device != "no")
    if settings.backends:
        dll = settings.state_dir / "sane.d" / "dll.conf"
        dll.write_text("\n".join(settings.backends) + "\n")
        for entry in (settings.state_dir / "sane.d" / "dll.d").iterdir():
            entry.unlink()
    return config_dir


@dataclass
class Gateway:
    settings: Settings
    reactor: object

    def __post_init__(self):
        self.scanners: dict[str, Scanner] = {}
        self.status_page = StatusPage(self)
        self.root = RootResource(self.status_page)
        self.site = server.Site(self.root)
        self.site.requestFactory = LimitedRequest
        self.site.displayTracebacks = False
        self.ports = []
        self.discovery = None
        self.library = SaneLibrary(write_sane_config(self.settings))
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
        override = self.settings.override_for(info.name)
        name = self.settings.friendly(info.name, info.vendor, info.model)
        scanner = Scanner(
            self.reactor, self.library, info, uuid=served.uuid, name=name, formats=image_path.formats(),
            sink_factory=image_path.make_sink, content_type=image_path.content_type,
            bytes_per_line=image_path.bytes_per_line, format_holds=image_path.format_holds,
            on_job_change=self._job_changed,
        )
        try:
            yield scanner.load()
        except Exception as e:
            log.error("cannot read the options of {device}: {error}", device=info.name, error=e)
            scanner.stop()
            return
        if override and (override.location or override.info):
            scanner.capabilities = replace(scanner.capabilities, location=override.location or "",
                                           info=override.info or "")
        elif self.settings.location:
            scanner.capabilities = replace(scanner.capabilities, location=self.settings.location)
        scanner.metadata = DeviceMetadata(
            endpoint=f"urn:uuid:{served.uuid}", friendly_name=name, manufacturer=info.vendor,
            model_name=info.model, serial=served.identity, firmware=f"sane-wsd-gateway {__version__}",
        )
        scanner.metadata_version = self.versions.version(
            served.uuid, hashlib.sha256(repr((scanner.metadata, scanner.capabilities)).encode()).hexdigest())
        self.scanners[served.uuid] = scanner
        self.root.add(DeviceResource(scanner, self.reactor))
        log.info("serving {device} ({vendor} {model}) as {name!r} at /{uuid}", device=info.name,
                 vendor=info.vendor, model=info.model, name=name, uuid=served.uuid)

    def _job_changed(self, scanner: Scanner, job) -> None:
        if job.state.ended:
            log.info("job {job} on {scanner} ended: {state} {reasons}, {n} image(s)", job=job.id,
                     scanner=scanner.name, state=job.state.value, reasons=",".join(job.reasons),
                     n=job.scans_completed)

    def listen(self) -> None:
        addresses = interface_addresses(self.settings.interfaces, self.settings.ipv6) if self.settings.interfaces \
            else (["::"] if self.settings.ipv6 and socket.has_ipv6 else ["0.0.0.0"])
        for addr in addresses:
            try:
                self.ports.append(self.reactor.listenTCP(self.settings.port, self.site, interface=addr))
            except CannotListenError as e:
                if addr == "::" and getattr(e.socketError, "errno", None) in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    log.info("no IPv6 ({error}); listening on IPv4 only", error=e)
                    self.ports.append(self.reactor.listenTCP(self.settings.port, self.site, interface="0.0.0.0"))
                else:
                    raise

    def url_on(self, host: str, uuid: str) -> str:
        literal = f"[{host}]" if ":" in host else host
        return f"http://{literal}:{self.settings.port}/{uuid}"

    def discoverable(self):
        for uuid, scanner in self.scanners.items():
            yield DiscoverableDevice(
                endpoint=f"urn:uuid:{uuid}",
                types=(ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE),
                scopes=(),
                metadata_version=scanner.metadata_version,
                xaddr=lambda host, uuid=uuid: self.url_on(host, uuid),
            )

    def start_discovery(self) -> None:
        self.discovery = DiscoveryService(lambda: list(self.discoverable()),
                                          interfaces=self.settings.interfaces or None,
                                          ipv6=self.settings.ipv6, reactor=self.reactor,
                                          allowed_networks=self.settings.allowed_networks)
        self.discovery.startService()

    @defer.inlineCallbacks
    def stop(self):
        if self.discovery is not None:
            yield self.discovery.stopService()
        for port in self.ports:
            yield port.stopListening()
        for scanner in self.scanners.values():
            scanner.stop()
