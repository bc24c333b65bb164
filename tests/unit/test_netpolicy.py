"""Who may use the gateway over HTTP, and where events may be sent."""

import ipaddress

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from gateway import netpolicy
from gateway.netpolicy import EventTargets, NetworkPolicy, TargetRefused, os_resolver
from gateway.addresses import LocalAddress


@pytest.fixture(autouse=True)
def lan(monkeypatch):
    """This machine: eth0 192.168.1.5/24 and wlan0 10.0.0.7/24."""
    def local_addresses(names, ipv6=True):
        every = {
            LocalAddress("eth0", 2, "192.168.1.5", 2, ipaddress.ip_network("192.168.1.0/24")),
            LocalAddress("wlan0", 2, "10.0.0.7", 3, ipaddress.ip_network("10.0.0.0/24")),
        }
        return frozenset(a for a in every if names is None or a.ifname in names)
    monkeypatch.setattr(netpolicy, "local_addresses", local_addresses)


def test_a_peer_on_a_local_link_is_served():
    assert NetworkPolicy().peer_allowed("192.168.1.40")
    assert NetworkPolicy().peer_allowed("::ffff:10.0.0.9")


def test_a_peer_from_elsewhere_is_refused_unless_its_network_is_allowed():
    assert not NetworkPolicy().peer_allowed("172.20.1.1")
    assert NetworkPolicy(allowed_networks=["172.20.0.0/16"]).peer_allowed("172.20.1.1")


def test_loopback_and_ipv6_link_local_peers_are_served():
    assert NetworkPolicy().peer_allowed("127.0.0.1")
    assert NetworkPolicy().peer_allowed("fe80::1")


def test_with_interfaces_configured_only_their_links_and_addresses_serve():
    policy = NetworkPolicy(interfaces=["eth0"])
    assert policy.peer_allowed("192.168.1.40") and not policy.peer_allowed("10.0.0.9")
    assert policy.local_address_allowed("192.168.1.5") and not policy.local_address_allowed("10.0.0.7")


def test_events_never_go_back_to_this_machine_for_a_remote_subscriber():
    policy = NetworkPolicy()
    for address in ("127.0.0.1", "127.0.0.2", "::1", "0.0.0.0", "0.1.2.3", "::", "::ffff:127.0.0.1",
                    "::127.0.0.1", "192.168.1.5", "10.0.0.7", "255.255.255.255", "224.0.0.1"):
        assert not policy.event_address_allowed(address, "192.168.1.40"), address
    assert policy.event_address_allowed("192.168.1.40", "192.168.1.40")
    assert policy.event_address_allowed("fe80::1%2", "fe80::1")


def test_an_event_target_must_be_an_address_not_a_name():
    assert not NetworkPolicy().event_address_allowed("localhost", "192.168.1.40")
    assert not NetworkPolicy().event_address_allowed("printer.lan", "192.168.1.40")


def test_a_subscriber_on_this_machine_may_receive_events_here():
    assert NetworkPolicy().event_address_allowed("127.0.0.1", "127.0.0.1")
    assert NetworkPolicy().event_address_allowed("192.168.1.5", "::1")


@pytest.mark.parametrize("spelling", ["127.1", "0", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1",
                                      "::1", "::ffff:127.0.0.1", "::ffff:7f00:1"])
def test_every_spelling_of_this_machine_resolves_to_an_address_that_is_refused(spelling):
    targets = EventTargets(NetworkPolicy(), os_resolver(reactor=None), Clock())
    failure = failure_of(targets.check(spelling, 80, "192.168.1.40"))
    assert isinstance(failure.value, TargetRefused), spelling
    assert "own machine" in str(failure.value)


def test_a_name_is_decided_on_what_it_resolves_to():
    names = {"pc.lan": ["192.168.1.40"], "me.lan": ["127.0.0.1"], "both.lan": ["192.168.1.40", "192.168.1.5"]}
    targets = EventTargets(NetworkPolicy(), lambda host, port: defer.succeed(names[host]), Clock())
    assert result_of(targets.check("pc.lan", 80, "192.168.1.40")) == ["192.168.1.40"]
    assert isinstance(failure_of(targets.check("me.lan", 80, "192.168.1.40")).value, TargetRefused)
    assert isinstance(failure_of(targets.check("both.lan", 80, "192.168.1.40")).value, TargetRefused)
    assert result_of(targets.deliverable("both.lan", 80, "192.168.1.40")) == ["192.168.1.40"]


def test_a_name_that_now_points_at_this_machine_gets_no_delivery():
    names = {"pc.lan": ["192.168.1.40"]}
    targets = EventTargets(NetworkPolicy(), lambda host, port: defer.succeed(names[host]), Clock())
    assert result_of(targets.check("pc.lan", 80, "192.168.1.40")) == ["192.168.1.40"]
    names["pc.lan"] = ["127.0.0.1"]
    assert isinstance(failure_of(targets.deliverable("pc.lan", 80, "192.168.1.40")).value, TargetRefused)


def test_a_name_that_does_not_resolve_or_takes_too_long_is_refused():
    clock = Clock()
    targets = EventTargets(NetworkPolicy(), lambda host, port: defer.fail(OSError("no such host")), clock)
    assert "does not resolve" in str(failure_of(targets.check("nowhere.lan", 80, "192.168.1.40")).value)
    slow = EventTargets(NetworkPolicy(), lambda host, port: defer.Deferred(), clock, timeout=5)
    d = slow.check("slow.lan", 80, "192.168.1.40")
    clock.advance(5)
    assert "did not resolve within 5 s" in str(failure_of(d).value)


def result_of(d: defer.Deferred):
    out = []
    d.addBoth(out.append)
    assert out and not isinstance(out[0], Failure), out
    return out[0]


def failure_of(d: defer.Deferred) -> Failure:
    out = []
    d.addBoth(out.append)
    assert out and isinstance(out[0], Failure), out
    return out[0]
