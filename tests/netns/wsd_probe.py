"""A small WS-Discovery client for tests, written apart from the gateway's own code.

    wsd_probe.py probe  --source 10.213.0.1 [--type '{ns}local' ...] [--count N] [--wait S]
    wsd_probe.py resolve --source 10.213.0.1 --endpoint urn:uuid:...
    wsd_probe.py listen --source 10.213.0.1 --interface veth-pc [--wait S] [--until-action Bye]

``--source`` may be an IPv6 link-local address with its zone (``fe80::1%veth-pc``).
Every message received is printed as one JSON line; nothing is sent anywhere but
the WS-Discovery group (with TTL/hops 1) out of the source's interface.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
import uuid

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
GROUP4, GROUP6 = "239.255.255.250", "ff02::c"
E = lambda ns, local: f"{{{ns}}}{local}"  # noqa: E731
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def request(action: str, body: etree._Element) -> bytes:
    env = etree.Element(E(SOAP, "Envelope"), nsmap={"soap": SOAP, "wsa": WSA, "wsd": WSD})
    header = etree.SubElement(env, E(SOAP, "Header"))
    etree.SubElement(header, E(WSA, "To")).text = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    etree.SubElement(header, E(WSA, "Action")).text = f"{WSD}/{action}"
    etree.SubElement(header, E(WSA, "MessageID")).text = f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(env, E(SOAP, "Body")).append(body)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def probe_body(types: list[str], scopes: list[str]) -> etree._Element:
    """Windows-style: the Types prefixes are declared on the Types element itself."""
    probe = etree.Element(E(WSD, "Probe"), nsmap={"wsd": WSD})
    if types:
        names = [etree.QName(t) for t in types]
        nsmap = {f"p{i}": q.namespace for i, q in enumerate(names)}
        el = etree.SubElement(probe, E(WSD, "Types"), nsmap=nsmap)
        el.text = " ".join(f"p{i}:{q.localname}" for i, q in enumerate(names))
    if scopes:
        etree.SubElement(probe, E(WSD, "Scopes")).text = " ".join(scopes)
    return probe


def resolve_body(endpoint: str) -> etree._Element:
    resolve = etree.Element(E(WSD, "Resolve"), nsmap={"wsd": WSD, "wsa": WSA})
    epr = etree.SubElement(resolve, E(WSA, "EndpointReference"))
    etree.SubElement(epr, E(WSA, "Address")).text = endpoint
    return resolve


def describe(data: bytes, source: str) -> dict:
    root = etree.fromstring(data, _PARSER)
    header = root.find(E(SOAP, "Header"))
    seq = header.find(E(WSD, "AppSequence"))
    body = root.find(E(SOAP, "Body"))
    return {
        "from": source,
        "action": header.findtext(E(WSA, "Action")).rsplit("/", 1)[-1],
        "to": header.findtext(E(WSA, "To")),
        "message_id": header.findtext(E(WSA, "MessageID")),
        "relates_to": header.findtext(E(WSA, "RelatesTo")),
        "instance_id": seq.get("InstanceId") if seq is not None else None,
        "message_number": seq.get("MessageNumber") if seq is not None else None,
        "endpoints": [a.text for a in body.iter(E(WSA, "Address"))],
        "xaddrs": [x for el in body.iter(E(WSD, "XAddrs")) for x in (el.text or "").split()],
        "types": [t for el in body.iter(E(WSD, "Types")) for t in (el.text or "").split()],
    }


def sender(source: str, port: int) -> tuple[socket.socket, tuple]:
    if ":" in source:
        address, _, zone = source.partition("%")
        ifindex = socket.if_nametoindex(zone) if zone else 0
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind((address, 0, 0, ifindex))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        return sock, (GROUP6, port, 0, ifindex)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    return sock, (GROUP4, port)


def listener(source: str, port: int) -> socket.socket:
    if ":" in source:  # IPv6: ADDRESS%INTERFACE, listening to ff02::c on that interface
        ifindex = socket.if_nametoindex(source.partition("%")[2])
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((GROUP6, port, 0, ifindex))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                        socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("=I", ifindex))
        return sock
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((GROUP4, port))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    struct.pack("=4s4s", socket.inet_aton(GROUP4), socket.inet_aton(source)))
    return sock


def receive(sock: socket.socket, wait: float, stop=lambda msg: False) -> None:
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            break
        try:
            msg = describe(data, addr[0])
        except (etree.LxmlError, AttributeError) as e:
            msg = {"from": addr[0], "error": str(e)}
        print(json.dumps(msg), flush=True)
        if stop(msg):
            break


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["probe", "resolve", "listen"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--port", type=int, default=3702)
    parser.add_argument("--type", action="append", default=[], help="a Clark QName, repeatable")
    parser.add_argument("--scope", action="append", default=[])
    parser.add_argument("--endpoint")
    parser.add_argument("--count", type=int, default=1, help="probes to send, each with its own MessageID")
    parser.add_argument("--wait", type=float, default=2.0, help="seconds to collect answers")
    parser.add_argument("--until-action", help="listen: stop after the first message with this action")
    args = parser.parse_args(argv)

    if args.mode == "listen":
        sock = listener(args.source, args.port)
        print(json.dumps({"listening": True}), flush=True)
        receive(sock, args.wait, lambda m: m.get("action") == args.until_action)
        return
    sock, group = sender(args.source, args.port)
    for _ in range(args.count):
        body = probe_body(args.type, args.scope) if args.mode == "probe" else resolve_body(args.endpoint)
        sock.sendto(request("Probe" if args.mode == "probe" else "Resolve", body), group)
    receive(sock, args.wait)


if __name__ == "__main__":
    sys.exit(main())
