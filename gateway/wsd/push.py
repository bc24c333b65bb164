"""Push scan: a scan started at the device lands on the PC the user chose.

The chosen destination's subscriber gets ScanAvailableEvent with a fresh
ScanIdentifier; the CreateScanJob that follows must carry that identifier and
the destination's token, once.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from twisted.logger import Logger

from gateway.wsd import namespaces as ns
from gateway.wsd import scan_messages as msg
from gateway.wsd.eventing import Destination, EventSource
from gateway.wsd.soap import sender_fault

log = Logger()

SCAN_IDENTIFIER_LIFETIME = 120.0
"""Seconds a ScanAvailableEvent stays claimable: the PC must start its job in this time."""


class NoDestination(LookupError):
    """No subscriber registered a destination of that name."""


@dataclass(frozen=True)
class PendingScan:
    identifier: str
    token: str
    destination: str
    issued_at: float


class PushScans:
    def __init__(self, clock, events: EventSource):
        self._clock = clock
        self._events = events
        self._pending: dict[str, PendingScan] = {}

    def destination_names(self) -> list[str]:
        return sorted({d.display_name for _s, d in self._events.destinations()})

    def _choose(self, name: str | None) -> tuple:
        found = self._events.destinations()
        if name:
            found = [(s, d) for s, d in found if d.display_name.casefold() == name.casefold()]
        if not found:
            known = ", ".join(self.destination_names()) or "none"
            raise NoDestination(f"no PC has registered the destination {name!r} (known: {known})"
                                if name else "no PC has registered a scan destination")
        return found[-1]

    def announce(self, destination: str | None) -> PendingScan:
        """Tell the chosen destination's subscriber that a scan waits for it."""
        subscription, dest = self._choose(destination)
        pending = PendingScan(f"urn:uuid:{uuid.uuid4()}", dest.token, dest.display_name, self._clock.seconds())
        self._pending[pending.identifier] = pending
        self._events.notify(ns.scan_action("ScanAvailableEvent"),
                            lambda: msg.scan_available_event(dest.client_context, pending.identifier),
                            only=subscription)
        log.info("push scan offered to {dest} ({peer})", dest=dest.display_name, peer=subscription.peer)
        return pending

    def check(self, identifier: str, token: str | None) -> Destination:
        """Check a push CreateScanJob's identifier and token; ``used`` spends them once its job exists."""
        now = self._clock.seconds()
        for key in [k for k, p in self._pending.items() if now - p.issued_at > SCAN_IDENTIFIER_LIFETIME]:
            del self._pending[key]
        pending = self._pending.get(identifier)
        if pending is None:
            raise sender_fault(ns.WSCN, "ClientErrorInvalidScanIdentifier", "no scan with that identifier is waiting")
        if not token or not secrets.compare_digest(pending.token, token):
            raise sender_fault(ns.WSCN, "ClientErrorInvalidDestinationToken",
                               "the DestinationToken is not the one of the chosen destination")
        found = self._events.find_destination(token)
        if found is None:
            raise sender_fault(ns.WSCN, "ClientErrorInvalidDestinationToken", "the destination is gone")
        return found[1]

    def used(self, identifier: str) -> None:
        self._pending.pop(identifier, None)
