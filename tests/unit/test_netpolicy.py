"""Who may use the gateway over HTTP, and where events may be sent."""

import ipaddress

import pytest

from gateway import netpolicy
from gateway.netpolicy import NetworkPolicy
from gateway.wsd.discovery.interfaces import LocalAddress


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
    assert not policy.event_target_allowed("127.0.0.1", "192.168.1.40")
    assert not policy.event_target_allowed("localhost", "192.168.1.40")
    assert not policy.event_target_allowed("192.168.1.5", "192.168.1.40")
    assert policy.event_target_allowed("192.168.1.40", "192.168.1.40")


def test_a_subscriber_on_this_machine_may_receive_events_here():
    assert NetworkPolicy().event_target_allowed("127.0.0.1", "127.0.0.1")
