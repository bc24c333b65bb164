"""Event delivery in-process: an EventSource on a Clock, with a poster the test answers for each subscriber."""

import pytest
from lxml import etree
from twisted.internet import defer
from twisted.internet.task import Clock

from gateway.wsd import namespaces as ns
from gateway.wsd.eventing import EventSource
from gateway.wsd.eventing.delivery import DELIVERY_TIMEOUT, QUEUE_LIMIT, RETRY_DELAYS
from gateway.wsd.eventing.messages import MAX_EXPIRY, STATUS_DELIVERY_FAILURE
from gateway.wsd.eventing.subscriptions import MAX_PER_PEER
from gateway.wsd.soap import build_envelope, parse_envelope, serialize

Q = ns.qname
EVENT = ns.scan_action("JobStatusEvent")
OFFERED = frozenset(ns.scan_action(e) for e in ns.SCAN_EVENTS)


class Poster:
    """Records each POST; the test decides when and how each one is answered."""

    def __init__(self):
        self.calls: list[tuple[str, bytes, defer.Deferred]] = []

    def __call__(self, url: str, data: bytes, subscriber: str) -> defer.Deferred:
        d = defer.Deferred()
        self.calls.append((url, data, d))
        return d

    def to(self, url: str) -> list[tuple[bytes, defer.Deferred]]:
        return [(data, d) for u, data, d in self.calls if u == url]

    def answer(self, url: str, ok: bool = True) -> None:
        """Answer the oldest unanswered POST to ``url``."""
        for data, d in self.to(url):
            if not d.called:
                d.callback(None) if ok else d.errback(OSError("HTTP 500"))
                return
        raise AssertionError(f"nothing waits for {url}")


def subscribe_envelope(notify: str, end_to: str | None = None, expires: str | None = None):
    body = etree.Element(Q(ns.WSE, "Subscribe"), nsmap=ns.NSMAP)
    if end_to:
        etree.SubElement(etree.SubElement(body, Q(ns.WSE, "EndTo")), Q(ns.WSA, "Address")).text = end_to
    delivery = etree.SubElement(body, Q(ns.WSE, "Delivery"))
    etree.SubElement(etree.SubElement(delivery, Q(ns.WSE, "NotifyTo")), Q(ns.WSA, "Address")).text = notify
    if expires:
        etree.SubElement(body, Q(ns.WSE, "Expires")).text = expires
    return parse_envelope(serialize(build_envelope(ns.SUBSCRIBE_ACTION, body)))


def managed(action: str, identifier: str, expires: str | None = None):
    ident = etree.Element(Q(ns.WSE, "Identifier"), nsmap=ns.NSMAP)
    ident.text = identifier
    body = None
    if action == ns.RENEW_ACTION:
        body = etree.Element(Q(ns.WSE, "Renew"), nsmap=ns.NSMAP)
        if expires:
            etree.SubElement(body, Q(ns.WSE, "Expires")).text = expires
    return parse_envelope(serialize(build_envelope(action, body, extra_headers=[ident])))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def poster():
    return Poster()


@pytest.fixture
def source(clock, poster):
    return EventSource(clock, poster, OFFERED, "scanner")


def subscribe(source, notify="http://pc/a", peer="192.168.1.20", **kw):
    d = source.subscribe(subscribe_envelope(notify, **kw), peer, "http://gw/scan")
    sub, _body, _extra = d.result
    return sub


def event(source, text="1"):
    def body():
        el = etree.Element(Q(ns.WSCN, "JobStatusEvent"))
        el.text = text
        return el
    return source.notify(EVENT, body)


def test_events_reach_a_subscriber_one_at_a_time_in_order(source, poster):
    subscribe(source)
    event(source, "first")
    event(source, "second")
    assert len(poster.to("http://pc/a")) == 1  # the second waits for the first to be taken
    poster.answer("http://pc/a")
    [(first, _), (second, _)] = poster.to("http://pc/a")
    assert b">first<" in first and b">second<" in second


def test_a_refused_event_is_retried_then_the_subscriber_is_dropped_with_subscription_end(source, poster, clock):
    subscribe(source, end_to="http://pc/end")
    event(source)
    for delay in RETRY_DELAYS:
        poster.answer("http://pc/a", ok=False)
        clock.advance(delay)
    assert len(poster.to("http://pc/a")) == len(RETRY_DELAYS) + 1
    poster.answer("http://pc/a", ok=False)
    assert source.subscriptions == {}
    [(end, _)] = poster.to("http://pc/end")
    assert STATUS_DELIVERY_FAILURE.encode() in end


def test_a_subscriber_that_never_answers_times_out_and_is_retried(source, poster, clock):
    subscribe(source)
    event(source)
    clock.advance(DELIVERY_TIMEOUT)
    clock.advance(RETRY_DELAYS[0])
    assert len(poster.to("http://pc/a")) == 2


def test_a_hanging_subscriber_does_not_delay_another(source, poster):
    subscribe(source, notify="http://pc/slow")
    subscribe(source, notify="http://other/fast", peer="192.168.1.21")
    event(source, "one")
    poster.answer("http://other/fast")
    event(source, "two")
    assert len(poster.to("http://other/fast")) == 2 and len(poster.to("http://pc/slow")) == 1


def test_a_subscriber_whose_queue_fills_is_dropped(source, poster):
    subscribe(source)
    for i in range(QUEUE_LIMIT + 1):
        event(source, str(i))
    assert source.subscriptions == {}


def test_a_subscription_expires_unless_renewed(source, clock):
    kept = subscribe(source, expires="PT60S")
    lapsing = subscribe(source, notify="http://pc/b", expires="PT60S")
    clock.advance(50)
    source.renew(managed(ns.RENEW_ACTION, kept.id, "PT60S"))
    clock.advance(20)
    assert set(source.subscriptions) == {kept.id} and lapsing.id not in source.subscriptions


def test_no_expiry_asked_means_the_longest_we_give(source, clock):
    sub = subscribe(source)
    assert sub.expires_at == clock.seconds() + MAX_EXPIRY


def test_after_unsubscribe_no_event_goes_out(source, poster):
    sub = subscribe(source)
    source.unsubscribe(managed(ns.UNSUBSCRIBE_ACTION, sub.id))
    assert event(source) == 0 and poster.calls == []


def test_one_address_past_its_share_loses_its_least_recently_renewed_subscription(source, clock):
    subs = []
    for i in range(MAX_PER_PEER):
        subs.append(subscribe(source, notify=f"http://pc/{i}"))
        clock.advance(1)
    source.renew(managed(ns.RENEW_ACTION, subs[0].id))
    newest = subscribe(source, notify="http://pc/new")
    assert subs[1].id not in source.subscriptions
    assert subs[0].id in source.subscriptions and newest.id in source.subscriptions


def test_ending_every_subscription_tells_each_end_to_once(source, poster):
    subscribe(source, end_to="http://pc/end")
    subscribe(source, notify="http://pc/b")  # no EndTo: nothing to tell
    done = source.end_all("urn:x", "stopping")
    assert len(poster.to("http://pc/end")) == 1 and source.subscriptions == {}
    poster.answer("http://pc/end")
    assert done.called
