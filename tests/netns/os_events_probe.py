"""Runs one OS-event watcher on the real reactor and prints what it reports, a JSON line each.

    python os_events_probe.py usb [--source udev|kernel]
    python os_events_probe.py network

The first line is ``{"ready": ...}``; then one line per change, stamped with
``time.monotonic()`` (the same clock in every process of the machine), so a
test can tell how long after its action the change was reported. For an
address added, ``bindable`` says whether a socket could be bound to it then.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

from twisted.internet import reactor

from gateway.osevents.network import NetworkChange, NetworkWatcher
from gateway.osevents.usb import Source, UsbChange, UsbWatcher


def emit(**fields) -> None:
    print(json.dumps({"t": time.monotonic(), **fields}), flush=True)


def bindable(address) -> bool:
    try:
        with socket.socket(address.family, socket.SOCK_DGRAM) as sock:
            if address.family == socket.AF_INET6:
                sock.bind((address.address, 0, 0, address.ifindex))
            else:
                sock.bind((address.address, 0))
        return True
    except OSError:
        return False


def usb_change(change: UsbChange) -> None:
    emit(arrived=[vars(d) for d in change.arrived], left=[vars(d) for d in change.left],
         actions=[e.action.value for e in change.events], lost=change.lost_events)


def network_change(change: NetworkChange) -> None:
    emit(added=[dict(vars(a), bindable=bindable(a)) for a in change.added],
         removed=[vars(a) for a in change.removed],
         links=[[e.ifname, e.state.value] for e in change.events if hasattr(e, "state")], lost=change.lost_events)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("watch", choices=["usb", "network"])
    parser.add_argument("--source", choices=[s.value for s in Source])
    args = parser.parse_args()
    if args.watch == "usb":
        watcher = UsbWatcher(usb_change, source=Source(args.source) if args.source else None)
        reactor.callWhenRunning(lambda: emit(ready=watcher.start().value))
    else:
        watcher = NetworkWatcher(network_change)
        reactor.callWhenRunning(lambda: watcher.start().addCallback(
            lambda state: emit(ready=sorted(map(str, state.addresses)))))
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
