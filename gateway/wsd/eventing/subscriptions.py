"""The subscriptions to one device's events: who, to which address, for how long, and room for one more.

Clock-driven and free of sockets and XML beyond the endpoint references, so
expiry and the room rules can be tested with ``task.Clock``.
"""

from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass

from gateway.wsd.eventing.messages import EndpointRef, matches

MAX_SUBSCRIPTIONS = 32
"""Subscriptions to one device. When full, a new one replaces the least recently renewed subscription
of the address that holds the most: a PC that installs the scanner always gets in."""
MAX_PER_PEER = 8
"""Subscriptions one address keeps to one device; its next one replaces its least recently renewed."""


@dataclass
class Subscription:
    id: str
    peer: str
    notify_to: EndpointRef
    end_to: EndpointRef | None
    actions: tuple[str, ...] | None  # None: every event
    expires_at: float
    manager_address: str = ""
    created: float = 0.0
    renewed: float = 0.0
    """When it was made or last renewed: the least recently renewed goes first when room is needed."""

    def wants(self, action: str) -> bool:
        return self.actions is None or any(matches(action, a) for a in self.actions)


def new_identifier() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


class SubscriptionTable:
    def __init__(self, clock, max_subscriptions: int = MAX_SUBSCRIPTIONS, max_per_peer: int = MAX_PER_PEER):
        self._clock = clock
        self._max = max_subscriptions
        self._max_per_peer = max_per_peer
        self._subscriptions: dict[str, Subscription] = {}

    def __len__(self) -> int:
        return len(self._subscriptions)

    def live(self) -> list[Subscription]:
        """The subscriptions that have not expired (those that have are forgotten here)."""
        return list(self._expire_and_get().values())

    def get(self, identifier: str | None) -> Subscription | None:
        return self._expire_and_get().get(identifier) if identifier else None

    def holds(self, sub: Subscription) -> bool:
        return self._subscriptions.get(sub.id) is sub

    def add(self, sub: Subscription) -> None:
        self._subscriptions[sub.id] = sub

    def remove(self, sub: Subscription) -> bool:
        """Forget it; False when it was gone already."""
        return self._subscriptions.pop(sub.id, None) is not None

    def clear(self) -> list[Subscription]:
        gone = list(self._subscriptions.values())
        self._subscriptions.clear()
        return gone

    def expired(self) -> list[Subscription]:
        """Forget the subscriptions whose time is up, and return them."""
        now = self._clock.seconds()
        gone = [s for s in self._subscriptions.values() if s.expires_at <= now]
        for sub in gone:
            del self._subscriptions[sub.id]
        return gone

    def _expire_and_get(self) -> dict[str, Subscription]:
        self.expired()
        return self._subscriptions

    def to_make_room(self, peer: str) -> tuple[Subscription, str] | None:
        """The subscription to drop so that ``peer`` may have one more, and why; None when there is room.

        An address at its share loses its own least recently renewed
        subscription (a PC that restarted forgot its old ones); a full table
        loses the least recently renewed subscription of the address that holds
        the most, so a few busy addresses cannot lock every other PC out.
        """
        subs = self._subscriptions.values()
        own = [s for s in subs if s.peer == peer]
        if len(own) >= self._max_per_peer:
            return min(own, key=lambda s: s.renewed), f"{peer} subscribed again, past its {self._max_per_peer} subscriptions"
        if len(self._subscriptions) >= self._max:
            held = collections.Counter(s.peer for s in subs)
            most = max(held.values())
            victim = min((s for s in subs if held[s.peer] == most), key=lambda s: s.renewed)
            return victim, f"the subscription table is full and {victim.peer} holds the most ({most})"
        return None
