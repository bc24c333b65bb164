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
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from lxml import etree
from twisted.internet import defer
from twisted.logger import Logger
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers

from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import Envelope, SoapFault, build_envelope, sender_fault, serialize

log = Logger()

MAX_EXPIRY = 3600
"""Seconds a subscription lasts at most (and when the client names no expiry); Windows renews."""
MAX_SUBSCRIPTIONS = 32
MAX_PER_PEER = 8
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

    @classmethod
    def parse(cls, el: etree._Element | None) -> EndpointRef | None:
        if el is None:
            return None
        address = el.findtext(qname(ns.WSA, "Address"))
        if not address or not address.strip().lower().startswith(("http://", "https://")):
            raise sender_fault(ns.WSE, "EventSourceUnableToProcess", "NotifyTo/EndTo needs an http address")
        params = el.find(qname(ns.WSA, "ReferenceParameters"))
        return cls(address.strip(), tuple(_copy(p) for p in params) if params is not None else ())


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
    actions = []
    for token in (filter_el.text or "").split():
        action = token if "/" in token else f"{ns.WSCN}/{token}"
        if not any(o == action or o.startswith(action.rstrip("/") + "/") for o in offered):
            raise SoapFault("Sender", qname(ns.WSDP, "FilterActionNotSupported"),
                            f"no event {action} is offered", detail=action)
        actions.append(action)
    return tuple(actions) or None


class EventSource:
    """The subscriptions to one device's events, and their delivery."""

    def __init__(self, clock, post: Callable[[str, bytes], defer.Deferred], offered: frozenset[str],
                 name: str = "device", target_allowed: Callable[[str, str], bool] = lambda host, peer: True):
        self._clock = clock
        self._target_allowed = target_allowed
        self._post = post
        self.offered = offered
        self.name = name
        self.subscriptions: dict[str, Subscription] = {}

    # ------------------------------------------------------------ requests

    def subscribe(self, env: Envelope, peer: str, manager_address: str) -> etree._Element:
        body = env.body
        self._expire()
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
        for epr in (notify_to, end_to):
            host = urlsplit(epr.address).hostname if epr is not None else None
            if epr is not None and not self._target_allowed(host or "", peer):
                raise sender_fault(ns.WSE, "EventSourceUnableToProcess",
                                   f"events are not sent to {host}: give an address of the subscribing machine")
        actions = _filter_actions(body.find(qname(ns.WSE, "Filter")), self.offered)
        lifetime = _expires(body.find(qname(ns.WSE, "Expires")))
        own = [s for s in self.subscriptions.values() if s.peer == peer]
        if len(own) >= MAX_PER_PEER:
            # A PC that restarted forgot its subscriptions; its oldest is the likeliest to be dead.
            oldest = min(own, key=lambda s: s.created)
            log.info("{peer} has {n} subscriptions to {name}: dropping its oldest", peer=peer, n=len(own),
                     name=self.name)
            self._drop(oldest, "its client subscribed again", STATUS_CANCELLING)
        elif len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise SoapFault("Receiver", qname(ns.WSE, "EventSourceUnableToProcess"),
                            "too many subscriptions; unsubscribe or let old ones expire")
        destinations = tuple(
            Destination(
                display_name=(d.findtext(qname(ns.WSCN, "ClientDisplayName")) or "").strip() or peer,
                client_context=(d.findtext(qname(ns.WSCN, "ClientContext")) or "").strip(),
                token=secrets.token_urlsafe(16),
            )
            for d in body.iter(qname(ns.WSCN, "ScanDestination"))
        )
        sub = Subscription(id=f"urn:uuid:{uuid.uuid4()}", peer=peer, notify_to=notify_to, end_to=end_to,
                           actions=actions, expires_at=self._clock.seconds() + lifetime,
                           manager_address=manager_address, destinations=destinations,
                           created=self._clock.seconds())
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
        d = self._post(sub.notify_to.address, sub.queue[0])
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
        d = self._post(sub.end_to.address, serialize(envelope))
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


def http_poster(reactor) -> Callable[[str, bytes], defer.Deferred]:
    """POST a SOAP message; the Deferred fails on a non-2xx answer, a refused or a dead connection."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = 1
    agent = Agent(reactor, connectTimeout=5, pool=pool)
    headers = Headers({b"content-type": [b"application/soap+xml; charset=utf-8"],
                       b"user-agent": [b"sane-wsd-gateway"]})

    def post(url: str, data: bytes) -> defer.Deferred:
        def check(response):
            if not 200 <= response.code < 300:
                raise OSError(f"HTTP {response.code}")
            finished: defer.Deferred = defer.Deferred()
            response.deliverBody(_Discard(finished))
            return finished
        return agent.request(b"POST", url.encode(), headers, FileBodyProducer(io.BytesIO(data))).addCallback(check)
    return post


class _Discard(Protocol):
    """Reads a reply body and keeps none of it: a subscriber's answer cannot fill our memory."""

    def __init__(self, finished: defer.Deferred):
        self.finished = finished

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason=None) -> None:
        self.finished.callback(None)
