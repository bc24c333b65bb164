"""``POST /push``: start a push scan from this machine (``sane-wsd-gateway push``, a button script).

Only loopback clients that show the token from the state directory may:
anyone else could otherwise send scans to other people's PCs, and the token
is something a request forged by way of an event delivery cannot carry.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

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


TOKEN_HEADER = b"x-push-token"
TOKEN_FILE = "push.token"


def ensure_token(state_dir: Path) -> str:
    """The token, made once and readable only by the service's user (and root)."""
    path = Path(state_dir) / TOKEN_FILE
    try:
        return path.read_text().strip()
    except OSError:
        token = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token


class PushResource(resource.Resource):
    isLeaf = True

    def __init__(self, gateway, token: str):
        super().__init__()
        self.gateway = gateway
        self.token = token

    def render_POST(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        given = (request.getHeader(TOKEN_HEADER) or b"").decode("ascii", "replace").strip()
        if not _is_loopback(getattr(request.getClientAddress(), "host", "")) or \
                not secrets.compare_digest(given, self.token):
            request.setResponseCode(403)
            return b"push scans are started on the gateway's own machine, with the token in its state directory\n"

        def arg(name: str) -> str | None:
            values = request.args.get(name.encode())
            return values[0].decode("utf-8", "replace").strip() if values else None

        try:
            pending = self.gateway.push_scan(arg("scanner"), arg("destination"))
        except NoDestination as e:
            request.setResponseCode(404)
            return f"{e}\n".encode()
        return f"scan offered to {pending.destination}\n".encode()
