"""Runs the eSCL mDNS announcer (AvahiAnnouncer) for scanners named on the command line, driven by stdin.

    DBUS_SYSTEM_BUS_ADDRESS=unix:path=... ip netns exec pi .venv/bin/python tests/netns/mdns_announcer.py \\
        --scanner "Office scanner" [--scanner ...] [--interface veth-pi] [--no-ipv6] [--bus ADDRESS]

Scanner N (from 1) gets the UUID ``00000000-0000-4000-8000-00000000000N``.
Commands on stdin, one a line: ``announce N NAME``, ``withdraw N``, ``status``,
``stop``. Everything it says is one JSON line on stdout: ``{"log": text}`` for
each log event, ``{"status": {...}}`` after ``status``, ``{"started": true}``
once ``start()`` fired and ``{"stopped": true}`` once ``stop()`` did.
"""

from __future__ import annotations

import argparse
import json
import sys

from twisted.internet import reactor, stdio
from twisted.logger import eventAsText, globalLogBeginner
from twisted.protocols.basic import LineReceiver

from gateway.announce import AnnouncedScanner
from gateway.escl.avahi import AvahiAnnouncer
from gateway.escl.dnssd import service_record
from gateway.model import Capabilities, ColorMode, Size, SourceCapabilities

PORT = 8765


def say(**kwargs) -> None:
    sys.stdout.write(json.dumps(kwargs) + "\n")
    sys.stdout.flush()


def uuid_of(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def capabilities() -> Capabilities:
    source = SourceCapabilities(colors=(ColorMode.GRAYSCALE_8, ColorMode.RGB_24), min_size=Size(40, 40),
                                max_size=Size(8267, 11692), optical_resolution=Size(600, 600),
                                resolutions_x=(150, 300, 600), resolutions_y=(150, 300, 600))
    return Capabilities(name="", info="", location="", formats=("png", "jfif", "pdf-a"), platen=source,
                        adf_front=source, adf_back=None, brightness=False, contrast=False)


def scanner(n: int, name: str) -> AnnouncedScanner:
    return AnnouncedScanner(uuid=uuid_of(n), name=name, manufacturer="Noname", model=f"tester {n}",
                            serial=f"test:{n}", location="Lab", capabilities=capabilities())


def record_for(s: AnnouncedScanner, host: str):
    base = f"http://{host}:{PORT}"
    return service_record(s, PORT, f"/escl/{s.uuid}", admin_url=f"{base}/", icon_url=f"{base}/escl/{s.uuid}/icon.png")


class Commands(LineReceiver):
    delimiter = b"\n"

    def __init__(self, announcer: AvahiAnnouncer, scanners: dict[int, AnnouncedScanner]):
        self.announcer = announcer
        self.scanners = scanners

    def lineReceived(self, line: bytes) -> None:
        words = line.decode().strip().split(" ", 2)
        if words[0] == "announce":
            self.scanners[int(words[1])] = scanner(int(words[1]), words[2])
            self.announcer.announce(self.scanners[int(words[1])])
        elif words[0] == "withdraw":
            self.announcer.withdraw(self.scanners.pop(int(words[1])))
        elif words[0] == "status":
            st = self.announcer.status()
            say(status={"state": st.state.value, "detail": st.detail, "names": dict(st.names)})
        elif words[0] == "stop":
            d = self.announcer.stop()
            d.addCallback(lambda _: say(stopped=True))
            d.addCallback(lambda _: reactor.stop())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scanner", action="append", default=[])
    parser.add_argument("--interface", action="append", default=[])
    parser.add_argument("--no-ipv6", action="store_true")
    parser.add_argument("--bus", default="system")
    args = parser.parse_args(argv)

    def observe(event) -> None:
        say(log=eventAsText(event, includeTimestamp=False, includeSystem=False))

    globalLogBeginner.beginLoggingTo([observe], redirectStandardIO=False)
    announcer = AvahiAnnouncer(reactor, record_for, interfaces=args.interface, ipv6=not args.no_ipv6,
                               bus_address=args.bus)
    scanners = {n: scanner(n, name) for n, name in enumerate(args.scanner, start=1)}

    def start() -> None:
        for s in scanners.values():
            announcer.announce(s)
        announcer.start().addCallback(lambda _: say(started=True))

    stdio.StandardIO(Commands(announcer, scanners))
    reactor.callWhenRunning(start)
    reactor.run()


if __name__ == "__main__":
    main()
