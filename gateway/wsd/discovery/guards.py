"""What keeps the announcer from answering twice, answering strangers, or amplifying.

Clock-driven and socket-free so the rules can be tested with ``task.Clock``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.addresses import Network, bare_address


class RecentMessageIds:
    """A bounded memory of MessageIDs: multicast senders repeat every message up to 4 times."""

    def __init__(self, capacity: int = 512):
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen_before(self, message_id: str) -> bool:
        if message_id in self._ids:
            self._ids.move_to_end(message_id)
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False


@dataclass
class _Bucket:
    tokens: float
    updated: float
    refused: int = 0


class RateLimiter:
    """A token bucket per source address: ``burst`` answers at once, refilled over ``period`` seconds.

    Ten answers per ten seconds is far more than a client needs (Windows probes
    a few times a minute, with each Probe repeated up to four times under one
    MessageID) and caps what a spoofed source can make us send at about one
    answer per second. The table of sources is bounded: the stalest is dropped.
    """

    def __init__(self, clock, burst: int = 10, period: float = 10.0, max_sources: int = 1024):
        self._clock = clock
        self._burst = burst
        self._rate = burst / period
        self._max_sources = max_sources
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, source: str) -> bool:
        now = self._clock.seconds()
        bucket = self._buckets.pop(source, None) or _Bucket(float(self._burst), now)
        self._buckets[source] = bucket
        if len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        bucket.tokens = min(float(self._burst), bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.refused = 0
            return True
        bucket.refused += 1
        return False

    def refused_in_a_row(self, source: str) -> int:
        """How many answers were refused since the last allowed one: log only the first."""
        bucket = self._buckets.get(source)
        return bucket.refused if bucket else 0


def is_on_link(host: str, link: Iterable[Network], allowed: Iterable[Network] = ()) -> bool:
    """A source we may answer: on a subnet of the receiving interface, IPv6 link-local, or allowed.

    Multicast and unspecified sources are refused: an answer to them makes no sense.
    """
    address = bare_address(host)
    if address is None or address.is_multicast or address.is_unspecified:
        return False
    if address.version == 6 and address.is_link_local:
        return True
    return any(address.version == n.version and address in n for n in (*link, *allowed))
