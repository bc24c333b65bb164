"""What the gateway has seen of the network: the first signs that a PC found, fetched or was refused it.

The parts that see these things are handed one bound method of ``Activity``
each (``app.py`` wires them): WS-Discovery tells of a probe, the SOAP resource
of a metadata fetch, the network policy of a client it turned away. The status
page reads the snapshot. Nothing here knows a protocol; it keeps a few values,
never a growing log.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

MAX_REFUSED = 8
"""Distinct refused clients kept (the most recent ones): enough to show a pattern, never a flood."""


@dataclass(frozen=True)
class Sighting:
    """The last time something was seen, and from which client."""

    time: datetime
    peer: str


@dataclass(frozen=True)
class Refusal:
    """A client the policy turned away: the last time, why, and how often since the gateway started."""

    time: datetime
    peer: str
    local: str
    """The address it reached us on."""
    reason: str
    count: int


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Activity:
    def __init__(self, clock: Callable[[], datetime] = _now):
        self._clock = clock
        self._probes: dict[str, Sighting] = {}
        self._fetches: dict[str, Sighting] = {}
        self._refused: OrderedDict[str, Refusal] = OrderedDict()

    # ------------------------------------------------------------ told by the parts that see it

    def probe_seen(self, interface: str, peer: str) -> None:
        """A WS-Discovery Probe from ``peer`` arrived on ``interface``: a PC is looking for devices."""
        self._probes[interface] = Sighting(self._clock(), peer)

    def metadata_fetched(self, uuid: str, peer: str) -> None:
        """``peer`` fetched the device description of scanner ``uuid``: Windows found it."""
        self._fetches[uuid] = Sighting(self._clock(), peer)

    def refused(self, peer: str, local: str, reason: str) -> None:
        """The network policy turned ``peer`` away (it reached us on ``local``)."""
        before = self._refused.pop(peer, None)
        self._refused[peer] = Refusal(self._clock(), peer, local, reason, (before.count if before else 0) + 1)
        while len(self._refused) > MAX_REFUSED:
            self._refused.popitem(last=False)

    # ------------------------------------------------------------ read by the status page

    def last_probe(self, interface: str) -> Sighting | None:
        return self._probes.get(interface)

    def last_fetch(self, uuid: str) -> Sighting | None:
        return self._fetches.get(uuid)

    def refusals(self) -> tuple[Refusal, ...]:
        """Newest first."""
        return tuple(reversed(self._refused.values()))
