"""Deciding what to answer to one received datagram: the guards, then the matching.

Socket-free: the service hands in bytes, the source and the receiving link, and
gets back the answers to send, so the whole policy is testable with a clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lxml import etree
from twisted.logger import Logger

from gateway.addresses import LocalAddress, bare_address, parse_networks
from gateway.wsd.discovery.guards import RateLimiter, RecentMessageIds, is_on_link
from gateway.wsd.discovery.messages import (
    AppSequence, Probe, Resolve, Target, build_probe_matches, build_resolve_matches, parse_message, probe_matches,
)
from gateway.wsd.soap import SoapFault

MAX_DATAGRAM = 32 * 1024
"""Larger datagrams are dropped unread. Real probes are under 2 KiB; SOAP-over-UDP
messages must fit one datagram, and 32 KiB leaves room for any sane Types/Scopes list."""

log = Logger()


@dataclass(frozen=True)
class DiscoverableDevice:
    """One scanner as discovery sees it; ``app.py`` builds these from the device registry."""

    endpoint: str
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    metadata_version: int
    xaddr: Callable[[str], str]
    """Host address literal (``192.168.1.5``, ``fe80::1``: no brackets, no zone) -> the device's URL."""


def target_for(device: DiscoverableDevice, local: LocalAddress) -> Target:
    """The device as seen from ``local``: its XAddrs hold only the URL on that address."""
    return Target(device.endpoint, device.types, device.scopes, (device.xaddr(local.address),),
                  device.metadata_version)


class AppSequenceCounter:
    """One InstanceId per run, one MessageNumber per message sent."""

    def __init__(self, instance_id: int):
        self.instance_id = instance_id
        self._numbers = itertools.count(1)

    def next(self) -> AppSequence:
        return AppSequence(self.instance_id, next(self._numbers))


@dataclass(frozen=True)
class Answer:
    local: LocalAddress
    """The address to send from, whose URL the XAddrs carry."""
    payload: bytes


def reply_address(host: str, link: Sequence[LocalAddress]) -> LocalAddress | None:
    """The address on ``link`` to answer ``host`` from: the one whose subnet holds it, else the first."""
    address = bare_address(host)
    if address is None:
        return None
    same_family = sorted(a for a in link if a.network.version == address.version)
    return next((a for a in same_family if address in a.network), same_family[0] if same_family else None)


class Responder:
    """Size, on-link, parse, duplicate, match and rate checks, in that order (cheapest first)."""

    def __init__(self, devices: Callable[[], Iterable[DiscoverableDevice]], sequence: AppSequenceCounter, clock,
                 allowed_networks: Sequence[str] = (), *, rate_limiter: RateLimiter | None = None,
                 on_probe: Callable[[str, Sequence[LocalAddress]], None] | None = None):
        self._devices = devices
        self._on_probe = on_probe
        """Told (host, link) of each new Probe from an on-link client, answered or not (the status page)."""
        self._sequence = sequence
        self._allowed = parse_networks(allowed_networks)
        self._recent = RecentMessageIds()
        self._limiter = rate_limiter or RateLimiter(clock)
        self._log_limiter = RateLimiter(clock, burst=3, period=60.0)

    def _note(self, host: str, why: str) -> None:
        """One line per ignored datagram, but never a flood of them from one source."""
        if self._log_limiter.allow(host):
            log.info("Ignored a discovery datagram from {host}: {why}", host=host, why=why)

    def answer(self, data: bytes, host: str, link: Sequence[LocalAddress]) -> list[Answer]:
        if len(data) > MAX_DATAGRAM:
            self._note(host, f"larger than {MAX_DATAGRAM} bytes")
            return []
        if not is_on_link(host, [a.network for a in link], self._allowed):
            log.debug("Ignored a discovery datagram from off-link {host}", host=host)
            return []
        local = reply_address(host, link)
        if local is None:
            return []
        try:
            message = parse_message(data)
        except SoapFault as e:
            self._note(host, f"malformed ({e.reason})")
            return []
        except (ValueError, LookupError, etree.LxmlError) as e:
            self._note(host, f"malformed ({e})")
            return []
        if message is None or self._recent.seen_before(message.message_id):
            return []
        if isinstance(message, Probe) and self._on_probe is not None:
            self._on_probe(host, link)
        answers = []
        for device in self._devices():
            target = target_for(device, local)
            if isinstance(message, Probe) and probe_matches(message, target):
                build = build_probe_matches
            elif isinstance(message, Resolve) and message.endpoint == target.endpoint:
                build = build_resolve_matches
            else:
                continue
            if not self._limiter.allow(host):
                if self._limiter.refused_in_a_row(host) == 1:
                    log.warn("Too many discovery requests from {host}: not answering for a while", host=host)
                break
            answers.append(Answer(local, build(target, self._sequence.next(), message.message_id)))
        return answers
