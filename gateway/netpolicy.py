"""Who may use the gateway over HTTP, and where it may send events.

A scanner on the LAN serves the LAN: peers on a local link (or in the
configured ``allowed_networks``), reaching us on an address of a served
interface. Event deliveries go to the subscriber's network, never back to this
machine, where they could reach local-only services such as ``/push``.

Where events go is decided on addresses, never on the spelling of a host:
``127.1``, ``2130706433`` or a name in /etc/hosts all reach loopback. The
host is resolved the way the connection would resolve it, every address is
checked, and the delivery connects to a checked address.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence

from twisted.internet import defer
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

from gateway.addresses import address_of, local_addresses, parse_networks, sockaddr_text

REFRESH_SECONDS = 5.0
RESOLVE_TIMEOUT = 5.0
"""Seconds a subscriber's host name may take to resolve."""


def _this_link(address) -> bool:
    """Loopback and IPv6 link-local never leave the machine or the link they came from."""
    return address.is_loopback or (address.version == 6 and address.is_link_local)


class NetworkPolicy:
    def __init__(self, interfaces: Sequence[str] = (), allowed_networks: Sequence[str] = (), ipv6: bool = True,
                 clock=time.monotonic):
        self._interfaces = tuple(interfaces) or None
        self._allowed = parse_networks(allowed_networks)
        self._ipv6 = ipv6
        self._clock = clock
        self._read_at = -REFRESH_SECONDS
        self._served = frozenset()
        self._every = frozenset()
        self.on_refused: Callable[[str, str, str], None] | None = None
        """Told (peer, local address, reason) of each client ``refusal`` turns away (the status page)."""

    def refusal(self, peer: str, local: str) -> str | None:
        """Why a client at ``peer`` that reached us on ``local`` is not served, or None when it is."""
        if not self.peer_allowed(peer):
            reason = (f"{peer} is not on a network of a served interface: if it should scan, "
                      f"add its network to allowed_networks")
        elif not self.local_address_allowed(local):
            reason = f"it reached the gateway on {local}, an address of an interface that is not served"
        else:
            return None
        if self.on_refused is not None:
            self.on_refused(peer, local, reason)
        return reason

    def _refresh(self) -> None:
        if self._clock() - self._read_at >= REFRESH_SECONDS:
            self._served = local_addresses(self._interfaces, self._ipv6)
            self._every = local_addresses(None, True) | self._served
            self._read_at = self._clock()

    def peer_allowed(self, host: str) -> bool:
        """A client on a served link, in an allowed network, or on this machine."""
        address = address_of(host)
        if address is None:
            return False
        if _this_link(address) or any(address in n for n in self._allowed):
            return True
        self._refresh()
        return any(address in a.network for a in self._served)

    def local_address_allowed(self, host: str) -> bool:
        """The address a client reached us on belongs to a served interface (or loopback)."""
        if self._interfaces is None:
            return True
        address = address_of(host)
        if address is None:
            return False
        if _this_link(address):
            return True
        self._refresh()
        return any(str(address) == a.address for a in self._served)

    def event_address_allowed(self, address: str, subscriber: str) -> bool:
        """May events of ``subscriber`` go to ``address``, an address a name resolved to?

        Never to this machine (loopback, the unspecified address, any local
        address) for a remote subscriber: its events could reach local-only
        services. A subscriber on this machine may have events sent here.
        Names are refused: the caller resolves, then asks about each address.
        """
        peer = address_of(subscriber)
        if peer is not None and peer.is_loopback:
            return True
        target = address_of(address)
        if target is None or _this_machine_anyway(target):
            return False
        self._refresh()
        return all(target != address_of(a.address) for a in self._every)


def _this_machine_anyway(address) -> bool:
    """Addresses that reach this machine (or nothing) whatever the interfaces say."""
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return True
    if address.version == 4:
        return address in _THIS_NETWORK or address == _BROADCAST
    return int(address) >> 32 == 0  # ::/96, the old IPv4-compatible form of 0.0.0.0/32 and 127.0.0.1


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")


class TargetRefused(Exception):
    """An event address this gateway does not send to; the message is for the subscriber."""


Resolver = Callable[[str, int], defer.Deferred]
"""(host, port) -> Deferred list of address strings (an IPv6 zone as ``%index``)."""


def os_resolver(reactor) -> Resolver:
    """The system's own resolution (getaddrinfo: /etc/hosts, DNS, and every numeric form it accepts)."""
    def resolve(host: str, port: int) -> defer.Deferred:
        try:
            found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError, ValueError):
            found = None
        if found is not None:
            return defer.succeed([sockaddr_text(f[4]) for f in found])
        receiver = _Addresses()
        reactor.nameResolver.resolveHostName(receiver, host, port)
        return receiver.done
    return resolve


@implementer(IResolutionReceiver)
class _Addresses:
    def __init__(self):
        self.found: list[str] = []
        self.done: defer.Deferred = defer.Deferred()

    def resolutionBegan(self, resolution) -> None:
        pass

    def addressResolved(self, address) -> None:
        scope = getattr(address, "scopeID", 0)
        self.found.append(f"{address.host}%{scope}" if scope else address.host)

    def resolutionComplete(self) -> None:
        self.done.callback(self.found)


class EventTargets:
    """Resolves an event address and checks each address it resolves to against the policy."""

    def __init__(self, policy: NetworkPolicy, resolve: Resolver, clock, timeout: float = RESOLVE_TIMEOUT):
        self._policy = policy
        self._resolve = resolve
        self._clock = clock
        self._timeout = timeout

    @defer.inlineCallbacks
    def _addresses(self, host: str, port: int):
        try:
            d = defer.maybeDeferred(self._resolve, host, port)
            d.addTimeout(self._timeout, self._clock)
            found = yield d
        except defer.TimeoutError:
            raise TargetRefused(f"{host} did not resolve within {self._timeout:.0f} s") from None
        except Exception as e:
            raise TargetRefused(f"{host} does not resolve ({e})") from None
        if not found:
            raise TargetRefused(f"{host} does not resolve to an address")
        return list(dict.fromkeys(found))

    @defer.inlineCallbacks
    def check(self, host: str, port: int, subscriber: str):
        """For a Subscribe: fails with TargetRefused unless every address ``host`` has is allowed."""
        found = yield self._addresses(host, port)
        refused = [a for a in found if not self._policy.event_address_allowed(a, subscriber)]
        if refused:
            raise TargetRefused(f"{host} is this gateway's own machine ({refused[0]}); events go to the "
                                f"subscribing computer: give one of its addresses")
        return found

    @defer.inlineCallbacks
    def deliverable(self, host: str, port: int, subscriber: str):
        """For one delivery: the allowed addresses ``host`` has now (a name may have changed since)."""
        found = yield self._addresses(host, port)
        allowed = [a for a in found if self._policy.event_address_allowed(a, subscriber)]
        if not allowed:
            raise TargetRefused(f"{host} now resolves to this gateway's own machine ({found[0]})")
        return allowed
