"""The HTTP client that delivers events: one POST per message, only to addresses the policy checked.

``http_poster`` is what ``delivery.Delivery`` is given in the gateway; tests
give it a fake. The connection goes to an address the host resolved to and
the policy allowed at this delivery, never to a name: a name may point
elsewhere by now (DNS rebinding), so no connection is kept for the next one.
"""

from __future__ import annotations

import io
from typing import Callable
from urllib.parse import unquote

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer


def http_poster(reactor, addresses: Callable[[str, int, str], defer.Deferred],
                connect_timeout: float = 5.0) -> Callable[[str, bytes, str], defer.Deferred]:
    """``post(url, data, subscriber)``: POST a SOAP message; fails on a non-2xx answer, a refused or dead connection.

    ``addresses(host, port, subscriber)`` gives the addresses the connection may
    use (resolved and checked at each delivery: a name may point elsewhere by
    now); the connection goes to the first of them that answers, never to a
    name. One connection per message: a persistent one would outlive that check.
    """
    pool = HTTPConnectionPool(reactor, persistent=False)
    headers = Headers({b"content-type": [b"application/soap+xml; charset=utf-8"],
                       b"user-agent": [b"sane-wsd-gateway"]})

    def post(url: str, data: bytes, subscriber: str) -> defer.Deferred:
        def check(response):
            if not 200 <= response.code < 300:
                raise OSError(f"HTTP {response.code}")
            finished: defer.Deferred = defer.Deferred()
            response.deliverBody(_Discard(finished))
            return finished
        agent = Agent.usingEndpointFactory(
            reactor, _CheckedEndpoints(reactor, addresses, subscriber, connect_timeout), pool=pool)
        return agent.request(b"POST", url.encode("ascii"), headers,
                             FileBodyProducer(io.BytesIO(data))).addCallback(check)
    return post


@implementer(IAgentEndpointFactory)
class _CheckedEndpoints:
    """Endpoints for the Agent that connect to checked addresses of the URL's host."""

    def __init__(self, reactor, addresses, subscriber: str, timeout: float):
        self._reactor = reactor
        self._addresses = addresses
        self._subscriber = subscriber
        self._timeout = timeout

    def endpointForURI(self, uri):
        host = uri.host.decode("ascii").strip("[]")
        return _CheckedEndpoint(self._reactor, unquote(host), uri.port,
                                lambda: self._addresses(unquote(host), uri.port, self._subscriber), self._timeout)


@implementer(IStreamClientEndpoint)
class _CheckedEndpoint:
    def __init__(self, reactor, host: str, port: int, addresses: Callable[[], defer.Deferred], timeout: float):
        self._reactor = reactor
        self._host = host
        self._port = port
        self._addresses = addresses
        self._timeout = timeout

    @defer.inlineCallbacks
    def connect(self, factory):
        """To each checked address in turn (a name may have an IPv6 and an IPv4 address), the first that answers."""
        found = yield defer.maybeDeferred(self._addresses)
        for i, address in enumerate(found):
            kind = TCP6ClientEndpoint if ":" in address else TCP4ClientEndpoint
            try:
                protocol = yield kind(self._reactor, address, self._port, timeout=self._timeout).connect(factory)
            except Exception:
                if i == len(found) - 1:
                    raise
            else:
                return protocol


class _Discard(Protocol):
    """Reads a reply body and keeps none of it: a subscriber's answer cannot fill our memory."""

    def __init__(self, finished: defer.Deferred):
        self.finished = finished

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason=None) -> None:
        self.finished.callback(None)
