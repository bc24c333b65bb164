"""Push-scan destinations in-process: registered at Subscribe, alive as long as their subscription."""

import pytest
from lxml import etree
from twisted.internet.task import Clock

from gateway.wsd import namespaces as ns
from gateway.wsd.eventing import EventSource
from gateway.wsd.push import NoDestination, PushScans, read_destinations
from gateway.wsd.soap import SoapFault
from tests.unit.test_event_delivery import OFFERED, Poster, managed, subscribe_envelope

Q = ns.qname


def with_destinations(env, *names):
    for name in names:
        d = etree.SubElement(env.body, Q(ns.WSCN, "ScanDestination"))
        etree.SubElement(d, Q(ns.WSCN, "ClientDisplayName")).text = name
        etree.SubElement(d, Q(ns.WSCN, "ClientContext")).text = f"context of {name}"
    return env


@pytest.fixture
def parts():
    clock, poster = Clock(), Poster()
    events = EventSource(clock, poster, OFFERED, "scanner")
    return clock, poster, events, PushScans(clock, events)


def register(events, push, notify, *names, expires="PT60S"):
    env = with_destinations(subscribe_envelope(notify, expires=expires), *names)
    sub, body, found = events.subscribe(env, "192.168.1.20", "http://gw/scan",
                                        extension=lambda b: read_destinations(b, "192.168.1.20")).result
    push.register(sub, found, body)
    return sub, body


def test_each_destination_gets_a_token_in_the_subscribe_response(parts):
    _clock, _poster, events, push = parts
    _sub, body = register(events, push, "http://pc/a", "PC-ONE", "PC-TWO")
    tokens = body.findall(f".//{Q(ns.WSCN, 'DestinationToken')}")
    assert len(tokens) == 2 and push.destination_names() == ["PC-ONE", "PC-TWO"]


def test_a_destination_goes_with_its_subscription(parts):
    clock, _poster, events, push = parts
    register(events, push, "http://pc/a", "PC-ONE")
    sub, _ = register(events, push, "http://pc/b", "PC-TWO", expires="PT600S")
    clock.advance(61)
    assert push.destination_names() == ["PC-TWO"]
    events.unsubscribe(managed(ns.UNSUBSCRIBE_ACTION, sub.id))
    with pytest.raises(NoDestination):
        push.announce(None)


def test_an_announced_scan_goes_only_to_that_destinations_subscriber(parts):
    _clock, poster, events, push = parts
    register(events, push, "http://pc/a", "PC-ONE")
    register(events, push, "http://pc/b", "PC-TWO")
    pending = push.announce("pc-one")
    assert [u for u, _d, _x in poster.calls] == ["http://pc/a"]
    assert push.check(pending.identifier, pending.token).display_name == "PC-ONE"


def test_too_many_destinations_are_refused_before_anything_is_kept(parts):
    _clock, _poster, events, push = parts
    env = with_destinations(subscribe_envelope("http://pc/a"), *[f"PC{i}" for i in range(17)])
    d = events.subscribe(env, "192.168.1.20", "http://gw/scan",
                         extension=lambda b: read_destinations(b, "192.168.1.20"))
    assert isinstance(d.result.value, SoapFault)
    d.addErrback(lambda _f: None)
    assert events.subscriptions == {}
