"""Telling the network that a scanner is here: what every discovery protocol's announcer offers.

Each protocol announces in its own way (eSCL through avahi's mDNS, WSD through
WS-Discovery's Hello and Bye); the wiring and the status page see only this
interface and these values, never the protocol behind them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from twisted.internet.defer import Deferred

from gateway.model import Capabilities


@dataclass(frozen=True)
class AnnouncedScanner:
    """What an announcement says of one scanner, whatever the protocol."""

    uuid: str
    """The scanner's stable UUID, 8-4-4-4-12 lowercase hex: the same for every protocol, so that a
    client seeing the scanner twice can tell it is one device."""
    name: str
    """The name people pick it by."""
    manufacturer: str
    model: str
    serial: str
    location: str
    capabilities: Capabilities

    @property
    def make_and_model(self) -> str:
        if not self.manufacturer or self.model.lower().startswith(self.manufacturer.lower()):
            return self.model or self.manufacturer
        return f"{self.manufacturer} {self.model}"


class AnnouncerState(enum.Enum):
    STARTING = "starting"
    """Looking for the service it announces through."""
    ANNOUNCING = "announcing"
    """Announcing every scanner it was given."""
    UNAVAILABLE = "unavailable"
    """The service it announces through is missing (``detail`` says which and what to do); it announces
    as soon as the service appears."""
    STOPPED = "stopped"


@dataclass(frozen=True)
class AnnouncerStatus:
    """What the status page shows of an announcer."""

    protocol: str
    state: AnnouncerState
    detail: str = ""
    names: Mapping[str, str] = field(default_factory=dict)
    """Scanner UUID -> the name it is announced under now (differs from its own after a name collision)."""


@runtime_checkable
class Announcer(Protocol):
    """One discovery protocol's announcements. Calls never block; failures are logged, not raised."""

    def start(self) -> Deferred:
        """Begin announcing (what ``announce`` was given, and all that follows); fires once it is known whether
        the protocol's service is there. Never fails: a missing service is a state, not an error."""

    def announce(self, scanner: AnnouncedScanner) -> None:
        """Announce ``scanner``, or announce it anew if what is said of it changed."""

    def withdraw(self, scanner: AnnouncedScanner) -> None:
        """Stop announcing ``scanner`` (it went away, or its protocol was turned off for it)."""

    def stop(self) -> Deferred:
        """Withdraw everything and let go of the network; fires when done."""

    def status(self) -> AnnouncerStatus:
        """The announcer's state now."""
