"""Where PCs reach the gateway: its URLs on each address of the served interfaces, for the start log and
``list``."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.addresses import LocalAddress, local_addresses


@dataclass(frozen=True)
class Reach:
    """One address a PC can use, and its interface."""

    ifname: str
    address: str
    link_local: bool = False

    @property
    def host(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address

    def url(self, port: int, path: str = "") -> str:
        return f"http://{self.host}:{port}/{path}"


def reaches(interfaces: Sequence[str], ipv6: bool = True,
            addresses: frozenset[LocalAddress] | None = None) -> list[Reach]:
    """The served interfaces' addresses (every interface that is up when none is named), IPv4 first, then
    global IPv6, then link-local: in the order a person would try them."""
    found = local_addresses(interfaces or None, ipv6) if addresses is None else addresses
    ordered = sorted(found, key=lambda a: (a.family != socket.AF_INET, a.is_link_local, a.ifname, a.address))
    return [Reach(a.ifname, a.address, a.is_link_local) for a in ordered]
