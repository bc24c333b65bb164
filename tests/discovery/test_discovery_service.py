"""The service's timing and socket bookkeeping, with a fake reactor and fake sockets."""

import dataclasses
import ipaddress
import socket
import time

import pytest
from twisted.internet.task import Clock

from gateway.wsd import namespaces as ns
from gateway.wsd.discovery import DiscoverableDevice, DiscoveryService
from gateway.wsd.discovery import service as service_module
from gateway.addresses import LocalAddress
from gateway.wsd.discovery.service import (
    APP_MAX_DELAY, GROUP4, GROUP6, MULTICAST_UDP_REPEAT, UDP_MAX_DELAY, UDP_MIN_DELAY, UDP_UPPER_DELAY,
    transmission_times,
)
from gateway.wsd.soap import parse_envelope

ETH0 = LocalAddress("eth0", socket.AF_INET, "192.168.1.5", 2, ipaddress.ip_network("192.168.1.0/24"))
ETH0_LL = LocalAddress("eth0", socket.AF_INET6, "fe80::5", 2, ipaddress.ip_network("fe80::/64"))
WLAN0 = LocalAddress("wlan0", socket.AF_INET, "10.0.0.7", 3, ipaddress.ip_network("10.0.0.0/24"))


class FakeSocket:
    def __init__(self, family):
        self.family = family

    def fileno(self):
        return -1

    def close(self):
        pass


class FakePort:
    def __init__(self, reactor, protocol):
        self.reactor = reactor
        self.protocol = protocol
        self.open = True

    def write(self, data, addr):
        self.reactor.sent.append((self.reactor.seconds(), self.protocol, data, addr))

    def stopListening(self):
        self.open = False


class FakeReactor(Clock):
    def __init__(self):
        super().__init__()
        self.ports = []
        self.sent = []

    def adoptDatagramPort(self, fd, family, protocol, maxPacketSize=8192):
        port = FakePort(self, protocol)
        self.ports.append(port)
        protocol.makeConnection(port)
        return port


def scanner(metadata_version=1, endpoint="urn:uuid:00000000-0000-0000-0000-0000000000a1"):
    return DiscoverableDevice(endpoint, (ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE), (), metadata_version,
                              lambda h: f"http://[{h}]:8765/a1" if ":" in h else f"http://{h}:8765/a1")


@pytest.fixture
def addresses(monkeypatch):
    current = {ETH0, ETH0_LL}
    monkeypatch.setattr(service_module, "local_addresses", lambda names, ipv6: frozenset(current))
    monkeypatch.setattr(service_module, "open_receiver_socket", lambda family, ifindex, port: FakeSocket(family))
    monkeypatch.setattr(service_module, "open_sender_socket", lambda local: FakeSocket(local.family))
    return current


@pytest.fixture
def reactor():
    return FakeReactor()


@pytest.fixture
def devices():
    return [scanner()]


@pytest.fixture
def service(reactor, addresses, devices):
    svc = DiscoveryService(lambda: devices, instance_id=1234, reactor=reactor)
    svc.startService()
    return svc


def run(reactor, seconds):
    """Advance in 10 ms steps, so that each delayed call fires at (about) its own time."""
    reactor.pump([0.01] * (int(seconds * 100) + 1))


def messages(reactor, action):
    out = []
    for at, protocol, data, addr in reactor.sent:
        env = parse_envelope(data)
        if env.action == action:
            out.append((at, protocol.local, env, addr))
    return out


def xaddrs(env):
    return env.body.findtext(f".//{{{ns.WSD}}}XAddrs")


def probe(message_id="urn:uuid:p-1") -> bytes:
    return f"""<soap:Envelope xmlns:soap="{ns.SOAP}" xmlns:wsa="{ns.WSA}" xmlns:wsd="{ns.WSD}"><soap:Header>
<wsa:Action>{ns.PROBE_ACTION}</wsa:Action><wsa:MessageID>{message_id}</wsa:MessageID></soap:Header>
<soap:Body><wsd:Probe/></soap:Body></soap:Envelope>""".encode()


def receive(service, link, data, addr):
    service._receivers[link].datagramReceived(data, addr)


def test_transmission_times_follow_the_soap_over_udp_back_off():
    for _ in range(200):
        times = transmission_times(MULTICAST_UDP_REPEAT)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert times[0] == 0 and len(times) == MULTICAST_UDP_REPEAT
        assert UDP_MIN_DELAY <= gaps[0] <= UDP_MAX_DELAY
        assert all(g2 == pytest.approx(min(2 * g1, UDP_UPPER_DELAY)) for g1, g2 in zip(gaps, gaps[1:]))


def test_start_sends_a_hello_per_address_naming_that_address(service, reactor):
    run(reactor, 3)
    hellos = messages(reactor, ns.HELLO_ACTION)
    by_address = {local.address: xaddrs(env) for _, local, env, _ in hellos}
    assert by_address == {"192.168.1.5": "http://192.168.1.5:8765/a1", "fe80::5": "http://[fe80::5]:8765/a1"}
    destinations = {addr[:2] for _, _, _, addr in hellos}
    assert destinations == {(GROUP4, 3702), (GROUP6, 3702)}


def test_each_multicast_message_goes_out_four_times_under_one_message_id(service, reactor):
    run(reactor, 3)
    v4 = [(at, env.message_id) for at, local, env, _ in messages(reactor, ns.HELLO_ACTION) if local == ETH0]
    assert len(v4) == MULTICAST_UDP_REPEAT
    assert len({mid for _, mid in v4}) == 1
    assert v4[0][0] <= 0.01 and v4[-1][0] - v4[0][0] <= UDP_MAX_DELAY + 2 * UDP_UPPER_DELAY


def test_ipv6_link_scope_destinations_carry_the_interface_index(service, reactor):
    run(reactor, 3)
    [addr] = {addr for _, local, _, addr in messages(reactor, ns.HELLO_ACTION) if local == ETH0_LL}
    assert addr == (GROUP6, 3702, 0, ETH0_LL.ifindex)


def test_app_sequence_keeps_the_instance_id_and_numbers_every_message(service, reactor):
    run(reactor, 3)
    seqs = {(env.header_element(ns.WSD, "AppSequence").get("InstanceId"),
             env.header_element(ns.WSD, "AppSequence").get("MessageNumber"))
            for _, _, env, _ in messages(reactor, ns.HELLO_ACTION)}
    assert seqs == {("1234", "1"), ("1234", "2")}


def test_instance_id_defaults_to_the_start_time(reactor, addresses, devices):
    before = int(time.time())
    svc = DiscoveryService(lambda: devices, reactor=reactor)
    assert before <= svc.sequence.instance_id <= int(time.time())


def test_a_probe_is_answered_unicast_from_the_receiving_address_after_a_random_delay(service, reactor):
    run(reactor, 3)
    start = reactor.seconds()
    reactor.sent.clear()
    receive(service, ETH0.link, probe(), ("192.168.1.77", 50000))
    run(reactor, 3)
    answers = messages(reactor, ns.PROBE_MATCHES_ACTION)
    assert len(answers) == 2
    assert {(local, addr) for _, local, _, addr in answers} == {(ETH0, ("192.168.1.77", 50000))}
    assert start <= answers[0][0] <= start + APP_MAX_DELAY + 0.01
    assert xaddrs(answers[0][2]) == "http://192.168.1.5:8765/a1"


def test_an_ipv6_probe_is_answered_to_the_prober_on_the_same_interface(service, reactor):
    receive(service, ETH0_LL.link, probe(), ("fe80::77", 50000))
    run(reactor, 3)
    [(_, local, env, addr), _] = messages(reactor, ns.PROBE_MATCHES_ACTION)
    assert local == ETH0_LL and addr == ("fe80::77", 50000, 0, ETH0_LL.ifindex)
    assert xaddrs(env) == "http://[fe80::5]:8765/a1"


def test_stop_says_bye_on_every_address_then_closes_the_sockets(service, reactor):
    run(reactor, 3)
    done = service.stopService()
    fired = []
    done.addCallback(fired.append)
    assert all(p.open for p in reactor.ports)
    run(reactor, 3)
    assert fired
    byes = messages(reactor, ns.BYE_ACTION)
    assert {local for _, local, _, _ in byes} == {ETH0, ETH0_LL}
    assert len(byes) == 2 * MULTICAST_UDP_REPEAT
    assert not any(p.open for p in reactor.ports)


def test_no_hello_copy_follows_the_bye(service, reactor):
    done = service.stopService()
    run(reactor, 3)
    assert done.called
    first_bye = min(at for at, *_ in messages(reactor, ns.BYE_ACTION))
    assert all(at <= first_bye for at, *_ in messages(reactor, ns.HELLO_ACTION))


def test_a_new_address_gets_a_hello_and_a_vanished_one_its_sockets_closed(service, reactor, addresses):
    run(reactor, 3)
    reactor.sent.clear()
    addresses.add(WLAN0)
    addresses.discard(ETH0)
    run(reactor, service_module.POLL_INTERVAL)
    run(reactor, 3)
    assert {local for _, local, _, _ in messages(reactor, ns.HELLO_ACTION)} == {WLAN0}
    assert service.addresses == {WLAN0, ETH0_LL}
    closed = [p.protocol for p in reactor.ports if not p.open]
    assert ETH0.link not in service._receivers
    assert any(getattr(p, "local", None) == ETH0 for p in closed)
    assert any(getattr(p, "link", None) == ETH0.link for p in closed)


def test_an_address_that_cannot_be_opened_is_retried_at_the_next_poll(reactor, addresses, devices, monkeypatch):
    attempts = []

    def flaky(local):
        attempts.append(local)
        if len(attempts) <= 2:
            raise OSError(99, "Cannot assign requested address")
        return FakeSocket(local.family)

    monkeypatch.setattr(service_module, "open_sender_socket", flaky)
    svc = DiscoveryService(lambda: devices, reactor=reactor)
    svc.startService()
    assert svc.addresses == frozenset()
    run(reactor, service_module.POLL_INTERVAL)
    assert svc.addresses == {ETH0, ETH0_LL}


def test_device_removed_says_bye_and_device_changed_says_hello_with_the_new_version(service, reactor, devices):
    run(reactor, 3)
    reactor.sent.clear()
    service.device_removed(devices[0])
    changed = dataclasses.replace(devices[0], metadata_version=2)
    service.device_changed(changed)
    run(reactor, 3)
    assert len({env.message_id for _, _, env, _ in messages(reactor, ns.BYE_ACTION)}) == 2
    versions = {env.body.findtext(f"{{{ns.WSD}}}MetadataVersion") for _, _, env, _ in messages(reactor, ns.HELLO_ACTION)}
    assert versions == {"2"}


def test_device_added_says_hello_on_every_address(service, reactor):
    run(reactor, 3)
    reactor.sent.clear()
    service.device_added(scanner(endpoint="urn:uuid:00000000-0000-0000-0000-0000000000b2"))
    run(reactor, 3)
    hellos = messages(reactor, ns.HELLO_ACTION)
    assert {local for _, local, _, _ in hellos} == {ETH0, ETH0_LL}


def test_told_of_address_changes_it_says_hello_on_a_new_address_at_once_and_does_not_poll(reactor, addresses, devices):
    svc = DiscoveryService(lambda: devices, instance_id=1234, reactor=reactor, poll_interval=None)
    svc.startService()
    run(reactor, 1)
    addresses.add(WLAN0)
    run(reactor, 3 * service_module.POLL_INTERVAL)
    assert WLAN0 not in svc.addresses, "nobody said the addresses changed: no polling"
    svc.addresses_changed()
    run(reactor, 1)
    assert WLAN0 in svc.addresses
    assert any(local == WLAN0 for _, local, _, _ in messages(reactor, ns.HELLO_ACTION))


def test_told_of_an_address_gone_it_stops_announcing_there(reactor, addresses, devices):
    svc = DiscoveryService(lambda: devices, instance_id=1234, reactor=reactor, poll_interval=None)
    svc.startService()
    addresses.discard(ETH0)
    svc.addresses_changed()
    assert ETH0 not in svc.addresses and ETH0_LL in svc.addresses
