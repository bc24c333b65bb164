"""Limits on the HTTP site's connections: no client can hold the gateway's descriptors or its time.

- A request's headers must arrive within ``HEAD_SECONDS`` of its first line
  and its body within ``BODY_SECONDS`` after them (Twisted's idle timeout
  restarts with every line, so a header line every 20 s was never timed out).
  Once a request is in, nothing here limits how long its answer takes: an
  image may stream for minutes.
- An address holds at most ``PER_ADDRESS`` connections, and all of them
  together stay below the descriptor limit, so one busy client leaves room
  for the others.
- Lines that would repeat for every refused connection (a full descriptor
  table, a slow client) are logged at most once per ``LOG_INTERVAL``, with
  how many were left out.
"""

from __future__ import annotations

import resource
from typing import Callable

from twisted.logger import Logger, PredicateResult
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.internet.protocol import Protocol
from twisted.web import server

from gateway.addresses import client_key

log = Logger()

HEAD_SECONDS = 10.0
"""From a request's first line to the end of its headers."""
BODY_SECONDS = 20.0
"""From the end of the headers to the end of the body (at most 256 KiB: 13 KB/s is enough)."""
IDLE_SECONDS = 20.0
"""A connection that sends nothing (before its first request, or between two) is closed after this."""
PER_ADDRESS = 32
"""Connections one client address may hold at once (Windows and sane-airscan use a few)."""
LOG_INTERVAL = 10.0


def connection_budget(soft: int | None = None, reserve_min: int = 64) -> int:
    """Connections the site may hold in all: the descriptor limit (``soft``, default this process's) less a
    reserve for scanners, files, spooled pages and event deliveries."""
    if soft is None:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft > 1 << 20:
        soft = 1 << 20
    return max(16, soft - max(reserve_min, soft // 8))


class RateLimited:
    """Calls ``emit(fields, left_out)`` at most once per ``interval``; what is left out is summed up later."""

    def __init__(self, clock, emit: Callable[[dict, int], None], interval: float = LOG_INTERVAL):
        self._clock = clock
        self._emit = emit
        self._interval = interval
        self._last: float | None = None
        self._left_out = 0
        self._last_fields: dict = {}
        self._flush = None

    def __call__(self, **fields) -> None:
        now = self._clock.seconds()
        if self._last is None or now - self._last >= self._interval:
            self._last = now
            self._emit(fields, 0)
            return
        self._left_out += 1
        self._last_fields = fields
        if self._flush is None:
            self._flush = self._clock.callLater(self._last + self._interval - now, self._summarise)

    def _summarise(self) -> None:
        self._flush = None
        if self._left_out:
            left_out, self._left_out = self._left_out, 0
            self._last = self._clock.seconds()
            self._emit(self._last_fields, left_out)


def _more(left_out: int) -> str:
    return f" ({left_out} more like it in the last {LOG_INTERVAL:.0f} s)" if left_out else ""


class _Counted(ProtocolWrapper):
    address_key = ""


class _TooMany(Protocol):
    """An answer instead of a silent close, for a client over its share."""

    def connectionMade(self):
        text = b"too many connections from your address; close some and try again\n"
        self.transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(text), text))
        self.transport.loseConnection()


class ConnectionLimits(WrappingFactory):
    """Wraps the site: at most ``per_address`` connections per client address and ``total`` in all."""

    protocol = _Counted
    noisy = False  # the gateway's own start line says it is serving

    def __init__(self, site, clock, per_address: int = PER_ADDRESS, total: int | None = None):
        super().__init__(site)
        self.per_address = per_address
        self.total = total if total is not None else connection_budget()
        self.by_address: dict[str, int] = {}
        self.open = 0
        self._log_over = RateLimited(clock, lambda f, n: log.warn(
            "refused a connection from {peer}: it holds {limit} already{more}", peer=f["peer"], limit=per_address,
            more=_more(n)))
        self._log_full = RateLimited(clock, lambda f, n: log.warn(
            "refused a connection from {peer}: {total} connections are open, the most this gateway keeps "
            "(raise LimitNOFILE= to allow more){more}", peer=f["peer"], total=self.total, more=_more(n)))

    def buildProtocol(self, addr):
        key = client_key(getattr(addr, "host", str(addr)))
        if self.open >= self.total:
            self._log_full(peer=key)
            return None
        if self.by_address.get(key, 0) >= self.per_address:
            self._log_over(peer=key)
            return _TooMany()
        wrapper = super().buildProtocol(addr)
        wrapper.address_key = key
        self.by_address[key] = self.by_address.get(key, 0) + 1
        self.open += 1
        return wrapper

    def unregisterProtocol(self, p) -> None:
        super().unregisterProtocol(p)
        key = p.address_key
        self.open -= 1
        left = self.by_address.get(key, 0) - 1
        if left > 0:
            self.by_address[key] = left
        else:
            self.by_address.pop(key, None)


class DeadlineRequest(server.Request):
    """A request whose headers and body must arrive in time; the answer may take as long as it takes."""

    head_seconds = HEAD_SECONDS
    body_seconds = BODY_SECONDS
    _log_slow: RateLimited | None = None

    def __init__(self, channel, *args, **kwargs):
        super().__init__(channel, *args, **kwargs)
        self._arrival_deadline = channel.callLater(self.head_seconds, self._too_slow, "headers", self.head_seconds)

    def gotLength(self, length):
        self._cancel_deadline()
        if not self.finished:
            self._arrival_deadline = self.channel.callLater(self.body_seconds, self._too_slow, "body",
                                                            self.body_seconds)
        super().gotLength(length)

    def requestReceived(self, command, path, version):
        self._cancel_deadline()
        super().requestReceived(command, path, version)

    def connectionLost(self, reason):
        self._cancel_deadline()
        super().connectionLost(reason)

    def _cancel_deadline(self) -> None:
        deadline, self._arrival_deadline = getattr(self, "_arrival_deadline", None), None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _too_slow(self, part: str, seconds: float) -> None:
        self._arrival_deadline = None
        transport = self.channel.transport
        peer = client_key(getattr(transport.getPeer(), "host", "?"))
        cls = type(self)
        if cls._log_slow is None:
            cls._log_slow = RateLimited(self.channel.site.reactor, lambda f, n: log.info(
                "closed the connection of {peer}: its request {part} took more than {seconds:.0f} s{more}",
                more=_more(n), **f))
        cls._log_slow(peer=peer, part=part, seconds=seconds)
        transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        transport.loseConnection()


_ACCEPT_FAILURES = ("EMFILE encountered", "EMFILE recovery", "Re-reserving EMFILE", "Could not re-reserve EMFILE",
                    "Could not reserve EMFILE", "Could not accept new connection")
_REFUSED = ("EMFILE recovery: Closed socket", "Could not accept new connection")
_IDLE = "Timing out client"


class ConnectionLogFilter:
    """A log filter that turns Twisted's line per failed accept (and per idle client) into one line per interval.

    Out of descriptors, Twisted accepts and closes every new connection with
    three or four lines each: 1,368 lines in 6 s under load. The counts go into
    one warning that says how to fix it.
    """

    def __init__(self, clock):
        self._out_of_descriptors = RateLimited(clock, lambda f, n: log.warn(
            "out of file descriptors: new connections are being closed at once ({n} in the last {s:.0f} s); "
            "raise LimitNOFILE= (systemctl edit sane-wsd-gateway) or see who holds connections (ss -tn)",
            n=n or 1, s=LOG_INTERVAL))
        self._idle = RateLimited(clock, lambda f, n: log.info(
            "closed idle connections after {s:.0f} s: {peer}{more}", s=IDLE_SECONDS, peer=f["peer"], more=_more(n)))

    def __call__(self, event: dict) -> PredicateResult:
        text = event.get("log_format") or ""
        if text.startswith(_ACCEPT_FAILURES):
            if text.startswith(_REFUSED):
                self._out_of_descriptors()
            return PredicateResult.no
        if text.startswith(_IDLE):
            self._idle(peer=str(event.get("peer", "?")))
            return PredicateResult.no
        return PredicateResult.maybe
