"""Who may use the gateway over HTTP, and where it may send events.

A scanner on the LAN serves the LAN: peers on a local link (or in the
configured ``allowed_networks``), reaching us on an address of a served
interface. Event deliveries go to the subscriber's network, never back to this
machine, where they could reach local-only services such as ``/push``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence

from gateway.wsd.discovery.interfaces import local_addresses

REFRESH_SECONDS = 5.0


def _ip(host: str):
    """An address literal (IPv4-mapped IPv6 as IPv4), or None for a name or garbage."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def _this_link(address) -> bool:
    """Loopback and IPv6 link-local never leave the machine or the link they came from."""
    return address.is_loopback or (address.version == 6 and address.is_link_local)


class NetworkPolicy:
    def __init__(self, interfaces: Sequence[str] = (), allowed_networks: Sequence[str] = (), ipv6: bool = True,
                 clock=time.monotonic):
        self._interfaces = tuple(interfaces) or None
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
        self._ipv6 = ipv6
        self._clock = clock
        self._read_at = -REFRESH_SECONDS
        self._served = frozenset()
        self._every = frozenset()

    def _refresh(self) -> None:
        if self._clock() - self._read_at >= REFRESH_SECONDS:
            self._served = local_addresses(self._interfaces, self._ipv6)
            self._every = local_addresses(None, True) | self._served
            self._read_at = self._clock()

    def peer_allowed(self, host: str) -> bool:
        """A client on a served link, in an allowed network, or on this machine."""
        address = _ip(host)
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
        address = _ip(host)
        if address is None:
            return False
        if _this_link(address):
            return True
        self._refresh()
        return any(str(address) == a.address for a in self._served)

    def event_target_allowed(self, host: str, subscriber: str) -> bool:
        """Events go to the subscriber's side of the network, not to this machine (unless it subscribed itself)."""
        peer = _ip(subscriber)
        if peer is not None and peer.is_loopback:
            return True
        if host.lower() in ("localhost", "localhost.localdomain"):
            return False
        target = _ip(host)
        if target is None:
            return True
        if target.is_loopback or target.is_unspecified:
            return False
        self._refresh()
        return all(str(target) != a.address for a in self._every)
