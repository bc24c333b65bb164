"""``POST /push``: start a push scan from this machine (``sane-wsd-gateway push``, a button script).

Only loopback clients that show the token from the state directory may:
anyone else could otherwise send scans to other people's PCs, and the token
is something a request forged by way of an event delivery cannot carry.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Callable

from twisted.logger import Logger
from twisted.web import resource

from gateway.addresses import is_loopback
from gateway.statefiles import StateFileError, write_atomic

log = Logger()


TOKEN_HEADER = b"x-push-token"
TOKEN_FILE = "push.token"
MIN_TOKEN_LENGTH = 32
"""A token shorter than this (an empty file left by a full disk, a hand edit) is never accepted."""


def token_usable(token: str | None) -> bool:
    return bool(token) and len(token) >= MIN_TOKEN_LENGTH and token.isascii() and token.isprintable() \
        and " " not in token


def ensure_token(state_dir: Path) -> str | None:
    """The token, made once and readable only by the service's user (and root).

    A missing, empty or short token file gets a new token, written atomically.
    None (push scans from this machine are off) if no good token can be saved.
    """
    path = Path(state_dir) / TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        token = None
    except OSError as e:
        log.error("cannot read the push token {path} ({error}): push scans from this machine are off",
                  path=str(path), error=e.strerror or e)
        return None
    if token_usable(token):
        return token
    if token is not None:
        log.warn("the push token in {path} is empty or too short: making a new one", path=str(path))
    token = secrets.token_urlsafe(24)
    try:
        write_atomic(path, token + "\n", 0o600)
    except StateFileError as e:
        log.error("{error}: push scans from this machine are off until the token can be saved "
                  "(free space there and restart)", error=e)
        return None
    return token


class PushResource(resource.Resource):
    """``start_push(scanner, destination)`` offers the scan and returns the destination's name, or raises
    LookupError (no such scanner or destination) with a message for the caller."""

    isLeaf = True

    def __init__(self, start_push: Callable[[str | None, str | None], str], token: str | None):
        super().__init__()
        self.start_push = start_push
        self.token = token if token_usable(token) else None

    def render_POST(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        given = (request.getHeader(TOKEN_HEADER) or b"").decode("ascii", "replace").strip()
        local = is_loopback(getattr(request.getClientAddress(), "host", ""))
        if local and self.token is None:
            request.setResponseCode(403)
            return b"push scans are off: the gateway could not save its token (see its log)\n"
        if not local or self.token is None or not secrets.compare_digest(given.encode(), self.token.encode()):
            request.setResponseCode(403)
            return b"push scans are started on the gateway's own machine, with the token in its state directory\n"

        def arg(name: str) -> str | None:
            values = request.args.get(name.encode())
            return values[0].decode("utf-8", "replace").strip() if values else None

        try:
            destination = self.start_push(arg("scanner"), arg("destination"))
        except LookupError as e:
            request.setResponseCode(404)
            return f"{e.args[0] if e.args else e}\n".encode()
        return f"scan offered to {destination}\n".encode()
