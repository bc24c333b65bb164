"""WS-Eventing 2004/08 as DPWS profiles it: subscriptions, renewals, expiry, event delivery.

One ``EventSource`` per device. Delivery runs per subscriber, one event at a
time in order, off the request path: a subscriber that hangs or refuses is
retried a little, then dropped, and never delays a scan or another subscriber.
"""

from __future__ import annotations

import collections
import io
import re
import secrets
import uuid
from urllib.parse import unquote, urlsplit
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from lxml import etree
from twisted.internet import defer
from twisted.logger import Logger
from twisted.internet.protocol import Protocol
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer
from twisted.web.http_headers import Headers

from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import Envelope, SoapFault, build_envelope, sender_fault, serialize

log = Logger()

MAX_EXPIRY = 3600
"""Seconds a subscription lasts at most (and when the client names no expiry); Windows renews."""
MAX_SUBSCRIPTIONS = 32
"""Subscriptions to one device. When full, a new one replaces the least recently renewed subscription
of the address that holds the most: a PC that installs the scanner always gets in."""
MAX_PER_PEER = 8
"""Subscriptions one address keeps to one device; its next one replaces its least recently renewed."""
MAX_ADDRESS_LENGTH = 1024
"""Characters in a NotifyTo/EndTo address (Windows sends about 80)."""
MAX_REFERENCE_BYTES = 4096
"""Serialized ReferenceParameters kept per address; they travel with every event."""
MAX_FILTER_ACTIONS = 32
MAX_DESTINATIONS = 16
"""ScanDestinations per subscription (Windows registers five)."""
MAX_TEXT_LENGTH = 255
"""Characters in a ClientDisplayName or ClientContext (the WS-Scan schema's String255)."""
QUEUE_LIMIT = 64
"""Events waiting for one subscriber; past this it is too slow and is dropped."""
RETRY_DELAYS = (1.0, 3.0)
DELIVERY_TIMEOUT = 10.0

STATUS_SHUTTING_DOWN = ns.WSE + "/SourceShuttingDown"
STATUS_DELIVERY_FAILURE = ns.WSE + "/DeliveryFailure"
STATUS_CANCELLING = ns.WSE + "/SourceCancelling"

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str) -> float:
    """xs:duration -> seconds (years and months at 365 and 30 days: only an order of magnitude matters)."""
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT"):
        raise ValueError(text)
    y, mo, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return ((y * 365 + mo * 30 + d) * 24 + h) * 3600 + mi * 60 + s


def format_duration(seconds: float) -> str:
    return f"PT{int(seconds)}S"


def _expires(el: etree._Element | None) -> float:
    """The requested lifetime in seconds, capped at MAX_EXPIRY; absent means our maximum."""
    if el is None or not (el.text or "").strip():
        return MAX_EXPIRY
    text = el.text.strip()
    try:
        if text.startswith("P"):
            seconds = parse_duration(text)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = when.timestamp() - datetime.now(timezone.utc).timestamp()
    except ValueError:
        raise sender_fault(ns.WSE, "InvalidExpirationTime", f"cannot read the expiry {text!r}") from None
    if seconds <= 0:
        raise sender_fault(ns.WSE, "InvalidExpirationTime", "the expiry lies in the past")
    return min(seconds, MAX_EXPIRY)


@dataclass(frozen=True)
class EndpointRef:
    address: str
    reference_parameters: tuple[etree._Element, ...] = ()
    host: str = ""
    port: int = 80

    @classmethod
    def parse(cls, el: etree._Element | None) -> EndpointRef | None:
        if el is None:
            return None
        what = etree.QName(el).localname
        address = (el.findtext(qname(ns.WSA, "Address")) or "").strip()
        host, port = _http_host(address, what)
        params = el.find(qname(ns.WSA, "ReferenceParameters"))
        kept = tuple(_copy(p) for p in params if isinstance(p.tag, str)) if params is not None else ()
        if sum(len(etree.tostring(p)) for p in kept) > MAX_REFERENCE_BYTES:
            raise sender_fault(ns.WSE, "EventSourceUnableToProcess",
                               f"the ReferenceParameters of {what} exceed {MAX_REFERENCE_BYTES} bytes")
        return cls(address, kept, host, port)


def _http_host(address: str, what: str) -> tuple[str, int]:
    """The host and port of an http:// event address, or the Sender fault that says what is wrong."""
    def refuse(why: str) -> SoapFault:
        return sender_fault(ns.WSE, "EventSourceUnableToProcess", f"{what}: {why}")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise refuse(f"the address is longer than {MAX_ADDRESS_LENGTH} characters")
    if not address.isascii() or not address.isprintable() or " " in address:
        raise refuse("the address must be a plain ASCII http:// URL")
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise refuse(f"cannot read the address {address!r} ({e})") from None
    if parts.scheme.lower() != "http":
        raise refuse("events are sent to http:// addresses only")
    if not host:
        raise refuse(f"the address {address!r} names no host")
    if "@" in parts.netloc:
        raise refuse("the address may not carry a user name")
    if port == 0:
        raise refuse("port 0 is not a port")
    return unquote(host), port or 80


def _copy(el: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(el))


@dataclass(frozen=True)
class Destination:
    """A push-scan destination a client registered: the name the device shows, the client's context."""

    display_name: str
    client_context: str
    token: str


@dataclass
class Subscription:
    id: str
    peer: str
    notify_to: EndpointRef
    end_to: EndpointRef | None
    actions: tuple[str, ...] | None  # None: every event
    expires_at: float
    manager_address: str = ""
    destinations: tuple[Destination, ...] = ()
    created: float = 0.0
    renewed: float = 0.0
    """When it was made or last renewed: the least recently renewed goes first when room is needed."""
    queue: collections.deque = field(default_factory=collections.deque)
    sending: bool = False
    delivered: int = 0

    def wants(self, action: str) -> bool:
        if self.actions is None:
            return True
        return any(action == a or action.startswith(a.rstrip("/") + "/") for a in self.actions)


def _filter_actions(filter_el: etree._Element | None, offered: frozenset[str]) -> tuple[str, ...] | None:
    if filter_el is None:
        return None
    dialect = filter_el.get("Dialect", ns.DPWS_ACTION_FILTER_DIALECT)
    if dialect != ns.DPWS_ACTION_FILTER_DIALECT:
        raise sender_fault(ns.WSE, "FilteringRequestedUnavailable", f"filter dialect {dialect} is not supported")
    actions: list[str] = []
    tokens = list(dict.fromkeys((filter_el.text or "").split()))
    if len(tokens) > MAX_FILTER_ACTIONS:
        raise sender_fault(ns.WSE, "EventSourceUnableToProcess", f"the Filter names more than {MAX_FILTER_ACTIONS} "
                           "events")
    for token in tokens:
        action = token if "/" in token else f"{ns.WSCN}/{token}"
        if not any(o == action or o.startswith(action.rstrip("/") + "/") for o in offered):
            raise SoapFault("Sender", qname(ns.WSDP, "FilterActionNotSupported"),
                            f"no event {action} is offered", detail=action)
        if action not in actions:
            actions.append(action)
    return tuple(actions) or None


def _destinations(body: etree._Element, peer: str) -> tuple[Destination, ...]:
    """The ScanDestinations of a Subscribe, each with a fresh token; names and contexts of a sane length."""
    found = list(body.iter(qname(ns.WSCN, "ScanDestination")))
    if len(found) > MAX_DESTINATIONS:
        raise sender_fault(ns.WSE, "EventSourceUnableToProcess", f"more than {MAX_DESTINATIONS} ScanDestinations")

    def text(d: etree._Element, local: str) -> str:
        value = (d.findtext(qname(ns.WSCN, local)) or "").strip()
        if len(value) > MAX_TEXT_LENGTH:
            raise sender_fault(ns.WSE, "EventSourceUnableToProcess",
                               f"{local} is longer than {MAX_TEXT_LENGTH} characters")
        return value
    return tuple(Destination(display_name=text(d, "ClientDisplayName") or peer,
                             client_context=text(d, "ClientContext"), token=secrets.token_urlsafe(16))
                 for d in found)


class EventSource:
    """The subscriptions to one device's events, and their delivery."""

    def __init__(self, clock, post: Callable[[str, bytes, str], defer.Deferred], offered: frozenset[str],
                 name: str = "device",
                 check_target: Callable[[str, int, str], defer.Deferred] = lambda h, p, s: defer.succeed(None)):
        """``post(url, data, subscriber)`` delivers; ``check_target(host, port, subscriber)`` fails with
        an exception whose message tells the subscriber why events cannot go there."""
        self._clock = clock
        self._check_target = check_target
        self._post = post
        self.offered = offered
        self.name = name
        self.subscriptions: dict[str, Subscription] = {}

    # ------------------------------------------------------------ requests

    @defer.inlineCallbacks
    def subscribe(self, env: Envelope, peer: str, manager_address: str):
        """Fires with the SubscribeResponse body, or fails with the fault to answer."""
        body = env.body
        delivery = body.find(qname(ns.WSE, "Delivery"))
        if delivery is None:
            raise sender_fault(ns.WSE, "EventSourceUnableToProcess", "Subscribe has no Delivery")
        mode = delivery.get("Mode", ns.WSE + "/DeliveryModes/Push")
        if mode != ns.WSE + "/DeliveryModes/Push":
            raise sender_fault(ns.WSE, "DeliveryModeRequestedUnavailable", f"delivery mode {mode} is not supported")
        notify_to = EndpointRef.parse(delivery.find(qname(ns.WSE, "NotifyTo")))
        if notify_to is None:
            raise sender_fault(ns.WSE, "EventSourceUnableToProcess", "Delivery has no NotifyTo")
        end_to = EndpointRef.parse(body.find(qname(ns.WSE, "EndTo")))
        actions = _filter_actions(body.find(qname(ns.WSE, "Filter")), self.offered)
        lifetime = _expires(body.find(qname(ns.WSE, "Expires")))
        destinations = _destinations(body, peer)
        for epr in (notify_to, end_to):
            if epr is not None:
                try:
                    yield self._check_target(epr.host, epr.port, peer)
                except Exception as e:
                    raise sender_fault(ns.WSE, "EventSourceUnableToProcess", f"events are not sent there: {e}")
        self._expire()
        self._make_room(peer)
        now = self._clock.seconds()
        sub = Subscription(id=f"urn:uuid:{uuid.uuid4()}", peer=peer, notify_to=notify_to, end_to=end_to,
                           actions=actions, expires_at=now + lifetime,
                           manager_address=manager_address, destinations=destinations,
                           created=now, renewed=now)
        self.subscriptions[sub.id] = sub
        log.info("{peer} subscribed to {what} of {name} for {s} s", peer=peer, name=self.name, s=int(lifetime),
                 what=" ".join(a.rsplit("/", 1)[-1] for a in actions) if actions else "every event")

        resp = etree.Element(qname(ns.WSE, "SubscribeResponse"), nsmap=ns.NSMAP)
        self._manager(resp, sub)
        etree.SubElement(resp, qname(ns.WSE, "Expires")).text = format_duration(lifetime)
        if destinations:
            responses = etree.SubElement(resp, qname(ns.WSCN, "DestinationResponses"))
            for d in destinations:
                r = etree.SubElement(responses, qname(ns.WSCN, "DestinationResponse"))
                etree.SubElement(r, qname(ns.WSCN, "ClientContext")).text = d.client_context
                etree.SubElement(r, qname(ns.WSCN, "DestinationToken")).text = d.token
        return resp

    def _make_room(self, peer: str) -> None:
        """Room for one more subscription of ``peer``, never by refusing it.

        An address at its share loses its own least recently renewed
        subscription (a PC that restarted forgot its old ones); a full table
        loses the least recently renewed subscription of the address that holds
        the most, so a few busy addresses cannot lock every other PC out.
        """
        own = [s for s in self.subscriptions.values() if s.peer == peer]
        if len(own) >= MAX_PER_PEER:
            victim = min(own, key=lambda s: s.renewed)
            why = f"{peer} subscribed again, past its {MAX_PER_PEER} subscriptions"
        elif len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            held = collections.Counter(s.peer for s in self.subscriptions.values())
            most = max(held.values())
            victim = min((s for s in self.subscriptions.values() if held[s.peer] == most), key=lambda s: s.renewed)
            why = f"the subscription table is full and {victim.peer} holds the most ({most})"
        else:
            return
        log.info("{name}: room for a subscription of {peer}: dropping one of {victim}", name=self.name, peer=peer,
                 victim=victim.peer)
        self._drop(victim, why, STATUS_CANCELLING)

    def _manager(self, parent: etree._Element, sub: Subscription) -> None:
        manager = etree.SubElement(parent, qname(ns.WSE, "SubscriptionManager"))
        etree.SubElement(manager, qname(ns.WSA, "Address")).text = sub.manager_address
        params = etree.SubElement(manager, qname(ns.WSA, "ReferenceParameters"))
        etree.SubElement(params, qname(ns.WSE, "Identifier")).text = sub.id

    def _find(self, env: Envelope) -> Subscription:
        self._expire()
        ident = env.header_element(ns.WSE, "Identifier")
        sub = self.subscriptions.get((ident.text or "").strip()) if ident is not None else None
        if sub is None:
            raise SoapFault("Sender", qname(ns.WSA, "DestinationUnreachable"), "no such subscription")
        return sub

    def renew(self, env: Envelope) -> etree._Element:
        sub = self._find(env)
        lifetime = _expires(env.body.find(qname(ns.WSE, "Expires")) if env.body is not None else None)
        sub.expires_at = self._clock.seconds() + lifetime
        sub.renewed = self._clock.seconds()
        resp = etree.Element(qname(ns.WSE, "RenewResponse"), nsmap=ns.NSMAP)
        etree.SubElement(resp, qname(ns.WSE, "Expires")).text = format_duration(lifetime)
        return resp

    def get_status(self, env: Envelope) -> etree._Element:
        sub = self._find(env)
        resp = etree.Element(qname(ns.WSE, "GetStatusResponse"), nsmap=ns.NSMAP)
        left = max(0, sub.expires_at - self._clock.seconds())
        etree.SubElement(resp, qname(ns.WSE, "Expires")).text = format_duration(left)
        return resp

    def unsubscribe(self, env: Envelope) -> None:
        """WS-Eventing 2004/08 answers Unsubscribe with an empty Body."""
        sub = self._find(env)
        del self.subscriptions[sub.id]
        log.info("{peer} unsubscribed from {name}", peer=sub.peer, name=self.name)
        return None

    def _expire(self) -> None:
        now = self._clock.seconds()
        for sub in [s for s in self.subscriptions.values() if s.expires_at <= now]:
            del self.subscriptions[sub.id]
            log.info("subscription of {peer} to {name} expired", peer=sub.peer, name=self.name)

    # ------------------------------------------------------------ push-scan destinations

    def destinations(self) -> list[tuple[Subscription, Destination]]:
        self._expire()
        return [(s, d) for s in self.subscriptions.values() for d in s.destinations]

    def find_destination(self, token: str) -> tuple[Subscription, Destination] | None:
        return next(((s, d) for s, d in self.destinations() if secrets.compare_digest(d.token, token)), None)

    # ------------------------------------------------------------ delivery

    def notify(self, action: str, body: Callable[[], etree._Element], only: Subscription | None = None) -> int:
        """Queue an event for every subscriber that asked for it; returns how many."""
        self._expire()
        targets = [only] if only is not None else [s for s in self.subscriptions.values() if s.wants(action)]
        for sub in targets:
            if len(sub.queue) >= QUEUE_LIMIT:
                self._drop(sub, "its event queue is full", STATUS_DELIVERY_FAILURE)
                continue
            envelope = build_envelope(action, body(), to=sub.notify_to.address,
                                      extra_headers=_reference_headers(sub.notify_to))
            sub.queue.append(serialize(envelope))
            if not sub.sending:
                self._send_next(sub)
        return len(targets)

    def _send_next(self, sub: Subscription, attempt: int = 0) -> None:
        if not sub.queue or sub.id not in self.subscriptions:
            sub.sending = False
            return
        sub.sending = True
        d = self._post(sub.notify_to.address, sub.queue[0], sub.peer)
        d.addTimeout(DELIVERY_TIMEOUT, self._clock)

        def sent(_):
            sub.queue.popleft()
            sub.delivered += 1
            self._send_next(sub)

        def failed(failure):
            if attempt < len(RETRY_DELAYS):
                self._clock.callLater(RETRY_DELAYS[attempt], self._send_next, sub, attempt + 1)
            else:
                self._drop(sub, f"it did not take an event: {failure.getErrorMessage()}", STATUS_DELIVERY_FAILURE)
        d.addCallbacks(sent, failed)

    def _drop(self, sub: Subscription, why: str, status: str) -> None:
        if self.subscriptions.pop(sub.id, None) is not None:
            log.warn("dropped the subscription of {peer} to {name}: {why}", peer=sub.peer, name=self.name, why=why)
            self._end(sub, status, why)
        sub.queue.clear()
        sub.sending = False

    def _end(self, sub: Subscription, status: str, reason: str) -> defer.Deferred:
        """SubscriptionEnd to the subscriber's EndTo, if it gave one, so it can subscribe again at once."""
        if sub.end_to is None:
            return defer.succeed(None)
        body = etree.Element(qname(ns.WSE, "SubscriptionEnd"), nsmap=ns.NSMAP)
        self._manager(body, sub)
        etree.SubElement(body, qname(ns.WSE, "Status")).text = status
        text = etree.SubElement(body, qname(ns.WSE, "Reason"))
        text.set(qname(ns.XML, "lang"), "en")
        text.text = reason
        envelope = build_envelope(ns.SUBSCRIPTION_END_ACTION, body, to=sub.end_to.address,
                                  extra_headers=_reference_headers(sub.end_to))
        d = self._post(sub.end_to.address, serialize(envelope), sub.peer)
        d.addTimeout(2.0, self._clock)
        d.addErrback(lambda f: log.info("SubscriptionEnd to {peer} failed: {e}", peer=sub.peer,
                                        e=f.getErrorMessage()))
        return d

    def end_all(self, status: str, reason: str) -> defer.Deferred:
        """SubscriptionEnd to every subscriber that gave an EndTo; fires when all were tried."""
        ends = [self._end(sub, status, reason) for sub in self.subscriptions.values()]
        self.subscriptions.clear()
        return defer.DeferredList(ends)


def _reference_headers(epr: EndpointRef) -> list[etree._Element]:
    """Reference parameters travel back as header blocks of their own (WS-Addressing 2004/08)."""
    return [_copy(p) for p in epr.reference_parameters]


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
