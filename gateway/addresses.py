"""Addresses, in one place: a host string as an address, who a client is, networks, this machine's addresses.

Every part that looks at an address asks here: the network policy (who may
use us, where events may go), WS-Discovery (which addresses to announce on,
who is on the link), the scan service (which client owns a job) and event
delivery (what a subscriber's name resolved to). This machine's addresses come
from netifaces, interface flags from sysfs.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import netifaces

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def bare_address(host: str) -> Address | None:
    """The address without an IPv6 zone (or brackets), or None if ``host`` is no address."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def address_of(host: str) -> Address | None:
    """Like ``bare_address``, with an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) as the IPv4 address it is."""
    address = bare_address(host)
    return getattr(address, "ipv4_mapped", None) or address


def client_key(host: str) -> str:
    """How a client is named: an IPv4 client of our dual-stack socket as its plain IPv4 address, any other
    host as it is (a zone kept)."""
    address = bare_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped else host


def is_loopback(host: str) -> bool:
    """``host`` is an address of this machine's loopback (in any spelling of an address)."""
    address = address_of(host)
    return address is not None and address.is_loopback


def parse_networks(networks: Iterable[str]) -> tuple[Network, ...]:
    """ValueError for what is no network."""
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def sockaddr_text(sockaddr) -> str:
    """A socket address's host, an IPv6 zone as ``%index``."""
    host = sockaddr[0]
    return f"{host}%{sockaddr[3]}" if len(sockaddr) == 4 and sockaddr[3] else host


IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000


@dataclass(frozen=True, order=True)
class LocalAddress:
    """One address of one interface: the unit that gets a socket, a Hello and an XAddr."""

    ifname: str
    family: int
    address: str
    """Without an IPv6 zone: this is what goes into URLs."""
    ifindex: int
    network: Network

    @property
    def link(self) -> tuple[str, int, int]:
        """What a receiver socket serves: an interface (recreated ones get a new index) and a family."""
        return (self.ifname, self.ifindex, self.family)

    @property
    def is_link_local(self) -> bool:
        return self.network.version == 6 and ipaddress.IPv6Address(self.address).is_link_local


def _flags(ifname: str) -> int | None:
    try:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            return int(f.read().strip(), 16)
    except (OSError, ValueError):
        return None


def _network(address: str, netmask: str) -> Network:
    if "/" in netmask:
        return ipaddress.ip_network(f"{address}/{netmask.rsplit('/', 1)[1]}", strict=False)
    return ipaddress.ip_network(f"{address}/{netmask}", strict=False)


def local_addresses(names: Sequence[str] | None, ipv6: bool = True) -> frozenset[LocalAddress]:
    """Addresses of the named interfaces, or of every interface that is up and not loopback.

    An interface that is down (or missing) contributes nothing; it is picked up
    at the next poll once it is up. IPv6 multicast needs IFF_MULTICAST (``lo``
    lacks it, yet carries IPv4 multicast): IPv6 is skipped where it is missing.
    """
    families = [socket.AF_INET] + ([socket.AF_INET6] if ipv6 else [])
    found = set()
    for ifname in (names if names is not None else netifaces.interfaces()):
        flags = _flags(ifname)
        if flags is not None and not flags & IFF_UP:
            continue
        if names is None and flags is not None and flags & IFF_LOOPBACK:
            continue
        try:
            ifindex = socket.if_nametoindex(ifname)
            by_family = netifaces.ifaddresses(ifname)
        except (OSError, ValueError):
            continue
        for family in families:
            if family == socket.AF_INET6 and flags is not None and not flags & IFF_MULTICAST:
                continue
            for entry in by_family.get(family, ()):
                address = entry.get("addr", "").split("%", 1)[0]
                if not address:
                    continue
                try:
                    network = _network(address, entry.get("netmask") or ("32" if family == socket.AF_INET else "128"))
                except ValueError:
                    continue
                if names is None and network.network_address.is_loopback:
                    continue
                found.add(LocalAddress(ifname, family, address, ifindex, network))
    return frozenset(found)


def interface_names() -> tuple[str, ...]:
    """Every network interface this machine has now, up or down."""
    return tuple(netifaces.interfaces())
