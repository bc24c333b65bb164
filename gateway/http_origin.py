"""Who sent an HTTP request, and by which address it reached us: for names in logs and URLs in answers.

Shared by every front end (WSD's SOAP, eSCL's REST), so that both name a
client the same way and both build their absolute URLs alike.
"""

from __future__ import annotations

from twisted.web import server

from gateway.addresses import client_key


def client_of(request: server.Request) -> str:
    """The client's address; an IPv4 client of our dual-stack socket as plain IPv4."""
    return client_key(getattr(request.getClientAddress(), "host", "?"))


def base_url(request: server.Request) -> str:
    """http://host:port as the client reached us: its Host header, else our socket's address (a Host that
    could carry a path, a user or a fragment into our URLs is not used)."""
    host = (request.getHeader(b"host") or b"").decode("ascii", "replace")
    if not host or any(c in host for c in "/?#@ \\"):
        h = request.getHost()
        host = f"[{h.host}]:{h.port}" if ":" in h.host else f"{h.host}:{h.port}"
    return f"http://{host}"
