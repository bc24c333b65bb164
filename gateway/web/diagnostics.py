"""What the status page says about the network, and the plain-language checklist it draws from it.

``app.py`` builds a ``Diagnostics`` snapshot from the parts that see the
network (discovery's addresses, ``activity.Activity``, the announcers); this
module only reads it. ``checklist`` is the page's answer to "why can't Windows
see it": each missing sign, in the order a person would check it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.activity import Refusal, Sighting
from gateway.announce import AnnouncerState, AnnouncerStatus


@dataclass(frozen=True)
class InterfaceView:
    """One served network interface."""

    name: str
    addresses: tuple[str, ...]
    """The addresses announced on it (with discovery off: the addresses it has)."""
    last_probe: Sighting | None = None
    not_announced: tuple[str, ...] = ()
    """Addresses it has that discovery could not open a socket on (the log says why)."""


@dataclass(frozen=True)
class Diagnostics:
    port: int
    discovery: bool
    """WS-Discovery is on (``discovery = yes``)."""
    interfaces: tuple[InterfaceView, ...]
    refusals: tuple[Refusal, ...] = ()
    announcers: tuple[AnnouncerStatus, ...] | None = None
    """The other discovery protocols' announcers (eSCL through avahi); None when the gateway has none."""
    allowed_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScannerSigns:
    """What the checklist needs of one scanner."""

    name: str
    last_fetch: Sighting | None
    subscriptions: int


def checklist(d: Diagnostics, scanners: Sequence[ScannerSigns]) -> list[str]:
    """What is missing, each as a sentence that says what to check; empty when every sign is there."""
    todo: list[str] = []
    if not scanners:
        todo.append("SANE finds no scanner: is it plugged in and switched on? `scanimage -L` lists what SANE "
                    "sees; if it works as root but not for the service, the scanner's USB permissions are "
                    "the cause (see README).")
    if not d.discovery:
        todo.append("Discovery is off (discovery = no in the config): Windows will not find the scanner by "
                    "itself. Turn it on, or add the scanner on the PC by its address.")
    elif not d.interfaces:
        todo.append("No network interface is served: check `interfaces` in the config "
                    "(`ip -brief address` lists this machine's interfaces).")
    probed = [i.last_probe for i in d.interfaces if i.last_probe is not None]
    for interface in d.interfaces:
        if not interface.addresses:
            todo.append(f"{interface.name} has no address: is its cable plugged in, or its Wi-Fi connected?")
    for interface in d.interfaces:
        if d.discovery and interface.not_announced:
            todo.append(f"Discovery cannot announce on {interface.name} {', '.join(interface.not_announced)}: "
                        f"the gateway's log says why (another program may hold the address, or it is still "
                        f"being configured).")
    silent = [i.name for i in d.interfaces if i.addresses]
    if d.discovery and silent and not probed:
        # One sentence, not one per docker0 or VPN tunnel: a probe on any interface shows the PC's side works.
        names = " or ".join(silent) if len(silent) < 3 else ", ".join(silent[:-1]) + " or " + silent[-1]
        todo.append(f"No PC has looked for scanners on {names} yet: is the PC on the same network, and is its "
                    f"network profile Private? (Windows looks when it starts, when it joins the network, and "
                    f"when you choose Add device.)")
    for scanner in scanners:
        if scanner.last_fetch is None:
            if probed:
                latest = max(probed, key=lambda s: s.time)
                todo.append(f"A PC ({latest.peer}) looked for scanners, but none has read the description of "
                            f"{scanner.name} yet: is TCP port {d.port} open in this machine's firewall, and is "
                            f"no firewall on the PC blocking it?")
        elif scanner.subscriptions == 0:
            todo.append(f"{scanner.last_fetch.peer} found {scanner.name} but has not installed it: on Windows, "
                        f"Settings, Bluetooth & devices, Printers & scanners, Add device.")
    for refusal in d.refusals:
        todo.append(f"{refusal.peer} was turned away ({refusal.count}x): {refusal.reason}.")
    for announcer in d.announcers or ():
        if announcer.state is AnnouncerState.UNAVAILABLE:
            todo.append(f"{announcer.protocol} is not announced: {announcer.detail or 'its service is missing'}.")
    return todo
