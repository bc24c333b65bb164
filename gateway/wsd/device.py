"""One scanner as a WSD device: its DPWS metadata and MetadataVersion, its events and push destinations,
and the SOAP resource that serves it.

It listens to the scanner core (``scanner_api.ScannerListener``) and says
what changed the way WS-Scan splits it: JobStatusEvent and JobEndStateEvent,
the ScannerStatus summary and condition events, ScannerElementsChangeEvent.
It knows nothing of SANE; ``app.py`` makes one per served scanner and closes
it when the scanner goes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from twisted.internet import defer
from twisted.logger import Logger

from gateway import __version__
from gateway.model import JobView, ScannerStatus
from gateway.scanner_api import ScannerCore
from gateway.wsd import namespaces as ns
from gateway.wsd.scan_messages import events
from gateway.wsd.discovery import DiscoverableDevice
from gateway.wsd.eventing import STATUS_SHUTTING_DOWN, EventSource
from gateway.wsd.metadata import DeviceMetadata, MetadataVersions
from gateway.wsd.push import PushScans
from gateway.wsd.service import DeviceResource

log = Logger()

SCAN_EVENT_ACTIONS = frozenset(ns.scan_action(e) for e in ns.SCAN_EVENTS)


@dataclass(frozen=True)
class Subscribers:
    """Who listens to a device's events, for the status page."""

    count: int
    peers: tuple[str, ...]
    destinations: tuple[str, ...]
    """The push-scan destinations they registered."""


class WsdDevice:
    def __init__(self, reactor, scanner: ScannerCore, *, post, check_target, versions: MetadataVersions,
                 image_transfer: str = "chunked", spool_dir: str | None = None,
                 on_metadata_change: Callable[["WsdDevice"], None] = lambda device: None,
                 on_metadata_fetch: Callable[[str], None] = lambda peer: None):
        self.scanner = scanner
        self._versions = versions
        self._on_metadata_change = on_metadata_change
        self.events = EventSource(reactor, post, SCAN_EVENT_ACTIONS, scanner.name, check_target=check_target)
        self.push = PushScans(reactor, self.events)
        self.metadata, self.metadata_version = self._describe()
        self.resource = DeviceResource(scanner, lambda: self.metadata, self.events, self.push,
                                       image_transfer=image_transfer, spool_dir=spool_dir,
                                       on_metadata_fetch=on_metadata_fetch)
        self._stop_listening = scanner.listen(self)

    @property
    def uuid(self) -> str:
        return self.scanner.identity.uuid

    def _describe(self) -> tuple[DeviceMetadata, int]:
        """The metadata, and its version: it rises whenever what the device tells clients changes."""
        identity = self.scanner.identity
        metadata = DeviceMetadata(
            endpoint=f"urn:uuid:{identity.uuid}", friendly_name=self.scanner.name, manufacturer=identity.vendor,
            model_name=identity.model, serial=identity.serial, firmware=f"sane-wsd-gateway {__version__}",
        )
        fingerprint = hashlib.sha256(repr((metadata, self.scanner.capabilities)).encode()).hexdigest()
        return metadata, self._versions.version(identity.uuid, fingerprint)

    def discoverable(self, url_on: Callable[[str, str], str]) -> DiscoverableDevice:
        """What WS-Discovery announces; ``url_on(host, uuid)`` is the device's URL on a local address."""
        uuid = self.uuid
        return DiscoverableDevice(
            endpoint=f"urn:uuid:{uuid}",
            types=(ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE),
            scopes=(),
            metadata_version=self.metadata_version,
            xaddr=lambda host: url_on(host, uuid),
        )

    def subscribers(self) -> Subscribers:
        subscriptions = list(self.events.subscriptions.values())
        return Subscribers(len(subscriptions), tuple(sorted({s.peer for s in subscriptions})),
                           tuple(self.push.destination_names()))

    # ------------------------------------------------------------ what the scanner tells

    def job_changed(self, job: JobView) -> None:
        self.events.notify(ns.scan_action("JobStatusEvent"), lambda: events.job_status_event(job))
        if job.state.ended:
            self.events.notify(ns.scan_action("JobEndStateEvent"), lambda: events.job_end_state_event(job))

    def status_changed(self, old: ScannerStatus, new: ScannerStatus) -> None:
        for name, body in events.status_change_events(old, new):
            self.events.notify(ns.scan_action(name), body)

    def description_changed(self) -> None:
        self.events.name = self.scanner.name
        self.metadata, version = self._describe()
        if version == self.metadata_version:
            return
        self.metadata_version = version
        log.info("{scanner}: description changed, telling subscribers", scanner=self.scanner.name)
        caps, defaults = self.scanner.capabilities, self.scanner.default_parameters
        self.events.notify(ns.scan_action("ScannerElementsChangeEvent"), lambda: events.elements_change_event(caps, defaults))
        self._on_metadata_change(self)

    # ------------------------------------------------------------ the end

    def close(self, reason: str = "the gateway is stopping") -> defer.Deferred:
        """No longer served: subscribers hear SubscriptionEnd (fires once each was tried)."""
        self._stop_listening()
        return self.events.end_all(STATUS_SHUTTING_DOWN, reason)
