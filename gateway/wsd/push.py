"""Push scan: a scan started at the device lands on the PC the user chose.

A PC registers destinations (ScanDestinations) when it subscribes; each gets
a token, and lives as long as its subscription. A press of the scan button
sends the chosen destination's subscriber a ScanAvailableEvent with a fresh
ScanIdentifier; the CreateScanJob that follows must carry that identifier and
the destination's token, once.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from lxml import etree
from twisted.logger import Logger

from gateway.wsd import namespaces as ns
from gateway.wsd.scan_messages import events
from gateway.wsd.eventing import EventSource, Subscription
from gateway.wsd.eventing.messages import unable
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import sender_fault

log = Logger()

SCAN_IDENTIFIER_LIFETIME = 120.0
"""Seconds a ScanAvailableEvent stays claimable: the PC must start its job in this time."""
MAX_DESTINATIONS = 16
"""ScanDestinations per subscription (Windows registers five)."""
MAX_TEXT_LENGTH = 255
"""Characters in a ClientDisplayName or ClientContext (the WS-Scan schema's String255)."""


class NoDestination(LookupError):
    """No subscriber registered a destination of that name."""


@dataclass(frozen=True)
class Destination:
    """A push-scan destination a client registered: the name the device shows, the client's context."""

    display_name: str
    client_context: str
    token: str


@dataclass(frozen=True)
class PendingScan:
    identifier: str
    token: str
    destination: str
    issued_at: float


def read_destinations(body: etree._Element, peer: str) -> tuple[Destination, ...]:
    """The ScanDestinations of a Subscribe, each with a fresh token; names and contexts of a sane length."""
    found = list(body.iter(qname(ns.WSCN, "ScanDestination")))
    if len(found) > MAX_DESTINATIONS:
        raise unable(f"more than {MAX_DESTINATIONS} ScanDestinations")

    def text(d: etree._Element, local: str) -> str:
        value = (d.findtext(qname(ns.WSCN, local)) or "").strip()
        if len(value) > MAX_TEXT_LENGTH:
            raise unable(f"{local} is longer than {MAX_TEXT_LENGTH} characters")
        return value
    return tuple(Destination(display_name=text(d, "ClientDisplayName") or peer,
                             client_context=text(d, "ClientContext"), token=secrets.token_urlsafe(16))
                 for d in found)


def destination_responses(response: etree._Element, destinations: tuple[Destination, ...]) -> None:
    """Each destination's token, in the SubscribeResponse."""
    if not destinations:
        return
    responses = etree.SubElement(response, qname(ns.WSCN, "DestinationResponses"))
    for d in destinations:
        r = etree.SubElement(responses, qname(ns.WSCN, "DestinationResponse"))
        etree.SubElement(r, qname(ns.WSCN, "ClientContext")).text = d.client_context
        etree.SubElement(r, qname(ns.WSCN, "DestinationToken")).text = d.token


class PushScans:
    def __init__(self, clock, events: EventSource):
        self._clock = clock
        self._events = events
        self._registered: dict[str, tuple[Subscription, tuple[Destination, ...]]] = {}
        self._pending: dict[str, PendingScan] = {}

    def register(self, sub: Subscription, destinations: tuple[Destination, ...], response: etree._Element) -> None:
        """A new subscription's destinations: kept for as long as it lives, their tokens in its response."""
        if destinations:
            self._registered[sub.id] = (sub, destinations)
        destination_responses(response, destinations)

    def destinations(self) -> list[tuple[Subscription, Destination]]:
        """Every destination whose subscription is still alive, oldest subscription first."""
        for key in [k for k, (sub, _d) in self._registered.items() if not self._events.active(sub)]:
            del self._registered[key]
        return [(sub, d) for sub, found in self._registered.values() for d in found]

    def destination_names(self) -> list[str]:
        return sorted({d.display_name for _s, d in self.destinations()})

    def find_destination(self, token: str) -> tuple[Subscription, Destination] | None:
        return next(((s, d) for s, d in self.destinations() if secrets.compare_digest(d.token, token)), None)

    def _choose(self, name: str | None) -> tuple[Subscription, Destination]:
        found = self.destinations()
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
                            lambda: events.scan_available_event(dest.client_context, pending.identifier),
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
        found = self.find_destination(token)
        if found is None:
            raise sender_fault(ns.WSCN, "ClientErrorInvalidDestinationToken", "the destination is gone")
        return found[1]

    def used(self, identifier: str) -> None:
        self._pending.pop(identifier, None)
