"""Duplicate, rate, on-link rules and the responder that applies them."""

import ipaddress
import socket

import pytest
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from gateway.wsd import namespaces as ns
from gateway.addresses import LocalAddress, parse_networks
from gateway.wsd.discovery.guards import RateLimiter, RecentMessageIds, is_on_link
from gateway.wsd.discovery.responder import (
    MAX_DATAGRAM, AppSequenceCounter, DiscoverableDevice, Responder, reply_address,
)
from gateway.wsd.soap import parse_envelope

ETH0_V4 = LocalAddress("eth0", socket.AF_INET, "192.168.1.5", 2, ipaddress.ip_network("192.168.1.0/24"))
ETH0_V4B = LocalAddress("eth0", socket.AF_INET, "10.0.0.5", 2, ipaddress.ip_network("10.0.0.0/8"))
ETH0_LL = LocalAddress("eth0", socket.AF_INET6, "fe80::5", 2, ipaddress.ip_network("fe80::/64"))
LINK = [ETH0_V4, ETH0_V4B, ETH0_LL]


def device(endpoint="urn:uuid:00000000-0000-0000-0000-0000000000a1", scopes=()):
    return DiscoverableDevice(endpoint, (ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE), scopes, 3,
                              lambda host: f"http://[{host}]:8765/x" if ":" in host else f"http://{host}:8765/x")


def probe(message_id="urn:uuid:p-1", types=f'<wsd:Types xmlns:d="{ns.WSDP}">d:Device</wsd:Types>') -> bytes:
    return f"""<soap:Envelope xmlns:soap="{ns.SOAP}" xmlns:wsa="{ns.WSA}" xmlns:wsd="{ns.WSD}"><soap:Header>
<wsa:To>{ns.DISCOVERY_URN}</wsa:To><wsa:Action>{ns.PROBE_ACTION}</wsa:Action><wsa:MessageID>{message_id}</wsa:MessageID>
</soap:Header><soap:Body><wsd:Probe>{types}</wsd:Probe></soap:Body></soap:Envelope>""".encode()


def resolve(endpoint, message_id="urn:uuid:r-1") -> bytes:
    return f"""<soap:Envelope xmlns:soap="{ns.SOAP}" xmlns:wsa="{ns.WSA}" xmlns:wsd="{ns.WSD}"><soap:Header>
<wsa:Action>{ns.RESOLVE_ACTION}</wsa:Action><wsa:MessageID>{message_id}</wsa:MessageID></soap:Header><soap:Body>
<wsd:Resolve><wsa:EndpointReference><wsa:Address>{endpoint}</wsa:Address></wsa:EndpointReference></wsd:Resolve>
</soap:Body></soap:Envelope>""".encode()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def log_events():
    events = []
    observer = events.append
    globalLogPublisher.addObserver(observer)
    yield events
    globalLogPublisher.removeObserver(observer)


@pytest.fixture
def responder(clock):
    return Responder(lambda: [device()], AppSequenceCounter(99), clock)


def xaddrs(payload: bytes) -> str:
    return parse_envelope(payload).body.findtext(f".//{{{ns.WSD}}}XAddrs")


def test_recent_message_ids_reports_a_repeat_and_forgets_the_oldest_beyond_capacity():
    recent = RecentMessageIds(capacity=2)
    assert not recent.seen_before("a")
    assert recent.seen_before("a")
    recent.seen_before("b")
    recent.seen_before("c")
    assert not recent.seen_before("a")


def test_rate_limiter_allows_a_burst_then_one_per_refill_interval(clock):
    limiter = RateLimiter(clock, burst=10, period=10.0)
    assert sum(limiter.allow("10.0.0.9") for _ in range(50)) == 10
    assert limiter.refused_in_a_row("10.0.0.9") == 40
    clock.advance(1.0)
    assert [limiter.allow("10.0.0.9") for _ in range(3)] == [True, False, False]
    assert limiter.allow("10.0.0.10")


def test_rate_limiter_table_of_sources_is_bounded(clock):
    limiter = RateLimiter(clock, burst=1, period=10.0, max_sources=3)
    for i in range(10):
        limiter.allow(f"10.0.0.{i}")
    assert len(limiter._buckets) == 3


@pytest.mark.parametrize("host, expected", [
    ("192.168.1.77", True),
    ("192.168.2.77", False),
    ("fe80::1234", True),
    ("fe80::1234%eth0", True),
    ("2001:db8::1", False),
    ("172.16.0.9", True),
    ("239.255.255.250", False),
    ("0.0.0.0", False),
    ("not-an-address", False),
])
def test_on_link_means_an_interface_subnet_ipv6_link_local_or_an_allowed_network(host, expected):
    link = [ipaddress.ip_network("192.168.1.0/24")]
    assert is_on_link(host, link, parse_networks(["172.16.0.0/12"])) is expected


def test_reply_address_is_the_one_whose_subnet_holds_the_prober():
    assert reply_address("10.1.2.3", LINK) == ETH0_V4B
    assert reply_address("192.168.1.9", LINK) == ETH0_V4
    assert reply_address("fe80::99", LINK) == ETH0_LL


def test_a_matching_probe_is_answered_with_the_xaddr_of_the_receiving_address(responder):
    [answer] = responder.answer(probe(), "192.168.1.77", LINK)
    assert answer.local == ETH0_V4
    assert xaddrs(answer.payload) == "http://192.168.1.5:8765/x"
    env = parse_envelope(answer.payload)
    assert env.action == ns.PROBE_MATCHES_ACTION
    assert env.header_element(ns.WSA, "RelatesTo").text == "urn:uuid:p-1"


def test_an_ipv6_link_local_probe_gets_a_bracketed_url_without_zone(responder):
    [answer] = responder.answer(probe(), "fe80::77", LINK)
    assert xaddrs(answer.payload) == "http://[fe80::5]:8765/x"


def test_a_probe_for_another_type_gets_no_answer(responder):
    assert responder.answer(probe(types='<wsd:Types xmlns:p="urn:x">p:Printer</wsd:Types>'),
                            "192.168.1.77", LINK) == []


def test_a_repeated_message_id_is_answered_once(responder):
    assert len(responder.answer(probe("urn:uuid:same"), "192.168.1.77", LINK)) == 1
    assert responder.answer(probe("urn:uuid:same"), "192.168.1.77", LINK) == []


def test_an_off_link_prober_gets_no_answer(responder):
    assert responder.answer(probe(), "192.168.2.77", LINK) == []


def test_an_allowed_network_is_answered_although_off_link(clock):
    responder = Responder(lambda: [device()], AppSequenceCounter(1), clock, ["192.168.2.0/24"])
    [answer] = responder.answer(probe(), "192.168.2.77", LINK)
    assert answer.local in (ETH0_V4, ETH0_V4B)


def padded(data: bytes, size: int) -> bytes:
    filler = size - len(data) - len(b"<!--  -->")
    return data + b"<!-- " + b"x" * filler + b" -->"


def test_a_datagram_of_the_maximum_size_is_still_answered(responder):
    assert len(responder.answer(padded(probe(), MAX_DATAGRAM), "192.168.1.77", LINK)) == 1


def test_an_oversized_datagram_is_ignored_with_one_log_line(responder, log_events):
    assert responder.answer(padded(probe(), MAX_DATAGRAM + 1), "192.168.1.77", LINK) == []
    assert [e["why"] for e in log_events] == [f"larger than {MAX_DATAGRAM} bytes"]


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00junk", b"<soap:Envelope", probe()[:-30],
                                  b'<?xml version="1.0" encoding="no-such-codec"?><a/>',
                                  b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'])
def test_a_malformed_datagram_is_ignored_with_one_log_line(responder, data, log_events):
    assert responder.answer(data, "192.168.1.77", LINK) == []
    assert len(log_events) == 1 and log_events[0]["why"].startswith("malformed")


def test_a_flood_of_malformed_datagrams_does_not_flood_the_log(responder, log_events):
    for _ in range(50):
        responder.answer(b"junk", "192.168.1.77", LINK)
    assert len(log_events) == 3


def test_a_flood_of_probes_from_one_source_gets_a_bounded_number_of_answers(responder, clock):
    answered = sum(len(responder.answer(probe(f"urn:uuid:f-{i}"), "192.168.1.77", LINK)) for i in range(100))
    assert answered == 10
    clock.advance(10)
    assert len(responder.answer(probe("urn:uuid:later"), "192.168.1.77", LINK)) == 1
    assert len(responder.answer(probe("urn:uuid:other"), "192.168.1.78", LINK)) == 1


def test_resolve_is_answered_only_for_our_endpoint(responder):
    assert responder.answer(resolve("urn:uuid:00000000-0000-0000-0000-000000000000"), "192.168.1.77", LINK) == []
    [answer] = responder.answer(resolve(device().endpoint, "urn:uuid:r-2"), "192.168.1.77", LINK)
    assert parse_envelope(answer.payload).action == ns.RESOLVE_MATCHES_ACTION
    assert xaddrs(answer.payload) == "http://192.168.1.5:8765/x"


def test_each_matching_device_answers_with_its_own_message_and_message_number(clock):
    devices = [device("urn:uuid:00000000-0000-0000-0000-0000000000a1"),
               device("urn:uuid:00000000-0000-0000-0000-0000000000a2")]
    responder = Responder(lambda: devices, AppSequenceCounter(5), clock)
    answers = responder.answer(probe(), "192.168.1.77", LINK)
    numbers = [parse_envelope(a.payload).header_element(ns.WSD, "AppSequence").get("MessageNumber")
               for a in answers]
    assert numbers == ["1", "2"]


def test_each_on_link_probe_is_told_to_the_status_page_even_one_for_another_type(clock):
    seen = []
    responder = Responder(lambda: [device()], AppSequenceCounter(1), clock, on_probe=lambda h, l: seen.append(h))
    responder.answer(probe("urn:uuid:a"), "192.168.1.77", LINK)
    responder.answer(probe("urn:uuid:b", types='<wsd:Types xmlns:p="urn:x">p:Printer</wsd:Types>'),
                     "192.168.1.78", LINK)
    assert seen == ["192.168.1.77", "192.168.1.78"]


def test_an_off_link_probe_or_a_resolve_is_not_told_as_a_probe(clock):
    seen = []
    responder = Responder(lambda: [device()], AppSequenceCounter(1), clock, on_probe=lambda h, l: seen.append(h))
    responder.answer(probe(), "192.168.2.77", LINK)
    responder.answer(resolve(device().endpoint), "192.168.1.77", LINK)
    assert seen == []
