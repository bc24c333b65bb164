"""``POST /push``: start a push scan from this machine (``sane-wsd-gateway push``, a button script).

Only loopback clients may: anyone else on the network could otherwise send
scans to other people's PCs.
"""

from __future__ import annotations

import ipaddress

from twisted.logger import Logger
from twisted.web import resource

from gateway.wsd.push import NoDestination

log = Logger()


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class PushResource(resource.Resource):
    isLeaf = True

    def __init__(self, gateway):
        super().__init__()
        self.gateway = gateway

    def render_POST(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        if not _is_loopback(getattr(request.getClientAddress(), "host", "")):
            request.setResponseCode(403)
            return b"push scans may only be started from the gateway's own machine\n"

        def arg(name: str) -> str | None:
            values = request.args.get(name.encode())
            return values[0].decode("utf-8", "replace").strip() if values else None

        try:
            pending = self.gateway.push_scan(arg("scanner"), arg("destination"))
        except NoDestination as e:
            request.setResponseCode(404)
            return f"{e}\n".encode()
        return f"scan offered to {pending.destination}\n".encode()
