"""Runs DiscoveryService for one fake scanner until SIGTERM (then it says Bye).

    PYTHONPATH=/work/main ip netns exec pi /usr/bin/python3 tests/netns/announcer.py \\
        --interface veth-pi --endpoint urn:uuid:... --http-port 8765 [--no-ipv6] [--allow NET]

Prints one JSON line ``{"ready": [addresses]}`` on stdout once its sockets are
open, and ``{"stopped": true}`` after the Byes went out. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from twisted.internet import reactor
from twisted.logger import globalLogBeginner, textFileLogObserver

from gateway.wsd import namespaces as ns
from gateway.wsd.discovery import DiscoverableDevice, DiscoveryService


def url_for(port: int, path: str):
    def xaddr(host: str) -> str:
        return f"http://[{host}]:{port}/{path}" if ":" in host else f"http://{host}:{port}/{path}"
    return xaddr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interface", action="append", help="repeatable; default: every interface that is up")
    parser.add_argument("--endpoint", default=f"urn:uuid:{uuid.uuid4()}")
    parser.add_argument("--scope", action="append", default=[])
    parser.add_argument("--http-port", type=int, default=8765)
    parser.add_argument("--metadata-version", type=int, default=1)
    parser.add_argument("--no-ipv6", action="store_true")
    parser.add_argument("--allow", action="append", default=[], help="an allowed network, repeatable")
    parser.add_argument("--instance-id", type=int)
    parser.add_argument("--port", type=int, default=3702)
    args = parser.parse_args(argv)

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    device = DiscoverableDevice(
        endpoint=args.endpoint,
        types=(ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE),
        scopes=tuple(args.scope),
        metadata_version=args.metadata_version,
        xaddr=url_for(args.http_port, args.endpoint.rsplit(":", 1)[-1]),
    )
    service = DiscoveryService(lambda: [device], interfaces=args.interface, ipv6=not args.no_ipv6,
                               instance_id=args.instance_id, allowed_networks=args.allow, port=args.port)

    def start() -> None:
        service.startService()
        print(json.dumps({"ready": sorted(a.address for a in service.addresses)}), flush=True)

    def stop():
        d = service.stopService()
        d.addCallback(lambda _: print(json.dumps({"stopped": True}), flush=True))
        return d

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    reactor.run()


if __name__ == "__main__":
    main()
