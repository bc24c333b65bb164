"""One device's event source: the WS-Eventing operations, and events handed to the subscribers that want them.

It joins the three parts: ``messages`` (the wire), ``subscriptions`` (the
store, expiry and room), ``delivery`` (queues and retries over an injected
poster).
"""

from __future__ import annotations

from typing import Callable, TypeVar

from lxml import etree
from twisted.internet import defer
from twisted.logger import Logger

from gateway.wsd import namespaces as ns
from gateway.wsd.eventing import messages as m
from gateway.wsd.eventing.delivery import Delivery, Poster
from gateway.wsd.eventing.subscriptions import Subscription, SubscriptionTable, new_identifier
from gateway.wsd.soap import Envelope, SoapFault, serialize

log = Logger()

T = TypeVar("T")


class EventSource:
    def __init__(self, clock, post: Poster, offered: frozenset[str], name: str = "device",
                 check_target: Callable[[str, int, str], defer.Deferred] = lambda h, p, s: defer.succeed(None)):
        """``post(url, data, subscriber)`` delivers; ``check_target(host, port, subscriber)`` fails with
        an exception whose message tells the subscriber why events cannot go there."""
        self._clock = clock
        self._check_target = check_target
        self.offered = offered
        self.name = name
        self._table = SubscriptionTable(clock)
        self._delivery = Delivery(clock, post, on_failed=lambda sub, why: self._drop(sub, why,
                                                                                     m.STATUS_DELIVERY_FAILURE))

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """The live subscriptions by identifier."""
        return {s.id: s for s in self._table.live()}

    def active(self, sub: Subscription) -> bool:
        """The subscription is still there (not expired, ended or dropped)."""
        return sub in self._table.live()

    # ------------------------------------------------------------ requests

    @defer.inlineCallbacks
    def subscribe(self, env: Envelope, peer: str, manager_address: str,
                  extension: Callable[[etree._Element], T] | None = None):
        """Fires with (the Subscription, the SubscribeResponse body, what ``extension`` read of the body),
        or fails with the fault to answer. ``extension`` reads what another specification adds to a
        Subscribe (WS-Scan's ScanDestinations) once the rest was found good, before anything is kept."""
        request = m.parse_subscribe(env.body, self.offered)
        extra = extension(env.body) if extension is not None else None
        for epr in (request.notify_to, request.end_to):
            if epr is not None:
                try:
                    yield self._check_target(epr.host, epr.port, peer)
                except Exception as e:
                    raise m.unable(f"events are not sent there: {e}")
        self._expire()
        self._make_room(peer)
        now = self._clock.seconds()
        sub = Subscription(id=new_identifier(), peer=peer, notify_to=request.notify_to, end_to=request.end_to,
                           actions=request.actions, expires_at=now + request.lifetime,
                           manager_address=manager_address, created=now, renewed=now)
        self._table.add(sub)
        log.info("{peer} subscribed to {what} of {name} for {s} s", peer=peer, name=self.name, s=int(request.lifetime),
                 what=" ".join(a.rsplit("/", 1)[-1] for a in request.actions) if request.actions else "every event")
        return sub, m.subscribe_response(manager_address, sub.id, request.lifetime), extra

    def _make_room(self, peer: str) -> None:
        found = self._table.to_make_room(peer)
        if found is not None:
            victim, why = found
            log.info("{name}: room for a subscription of {peer}: dropping one of {victim}", name=self.name, peer=peer,
                     victim=victim.peer)
            self._drop(victim, why, m.STATUS_CANCELLING)

    def _find(self, env: Envelope) -> Subscription:
        self._expire()
        sub = self._table.get(m.subscription_identifier(env))
        if sub is None:
            raise SoapFault("Sender", ns.qname(ns.WSA, "DestinationUnreachable"), "no such subscription")
        return sub

    def renew(self, env: Envelope) -> etree._Element:
        sub = self._find(env)
        lifetime = m.requested_lifetime(env.body.find(ns.qname(ns.WSE, "Expires")) if env.body is not None else None)
        sub.expires_at = self._clock.seconds() + lifetime
        sub.renewed = self._clock.seconds()
        return m.renew_response(lifetime)

    def get_status(self, env: Envelope) -> etree._Element:
        sub = self._find(env)
        return m.get_status_response(max(0, sub.expires_at - self._clock.seconds()))

    def unsubscribe(self, env: Envelope) -> None:
        """WS-Eventing 2004/08 answers Unsubscribe with an empty Body."""
        sub = self._find(env)
        self._table.remove(sub)
        self._delivery.forget(sub)
        log.info("{peer} unsubscribed from {name}", peer=sub.peer, name=self.name)
        return None

    def _expire(self) -> None:
        for sub in self._table.expired():
            self._delivery.forget(sub)
            log.info("subscription of {peer} to {name} expired", peer=sub.peer, name=self.name)

    # ------------------------------------------------------------ events

    def notify(self, action: str, body: Callable[[], etree._Element], only: Subscription | None = None) -> int:
        """Queue an event for every subscriber that asked for it (or for ``only``); returns how many."""
        self._expire()
        targets = [only] if only is not None else [s for s in self._table.live() if s.wants(action)]
        for sub in targets:
            self._delivery.send(sub, serialize(m.event(sub.notify_to, action, body())))
        return len(targets)

    def _drop(self, sub: Subscription, why: str, status: str) -> None:
        if self._table.remove(sub):
            log.warn("dropped the subscription of {peer} to {name}: {why}", peer=sub.peer, name=self.name, why=why)
            self._end(sub, status, why)
        self._delivery.forget(sub)

    def _end(self, sub: Subscription, status: str, reason: str) -> defer.Deferred:
        """SubscriptionEnd to the subscriber's EndTo, if it gave one, so it can subscribe again at once."""
        if sub.end_to is None:
            self._delivery.forget(sub)
            return defer.succeed(None)
        envelope = m.subscription_end(sub.end_to, sub.manager_address, sub.id, status, reason)
        return self._delivery.end(sub, serialize(envelope))

    def end_all(self, status: str, reason: str) -> defer.Deferred:
        """SubscriptionEnd to every subscriber that gave an EndTo; fires when all were tried."""
        return defer.DeferredList([self._end(sub, status, reason) for sub in self._table.clear()])
