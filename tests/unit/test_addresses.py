"""Addresses: this machine's (from netifaces' view and the interface flags), and host strings as addresses."""

import ipaddress
import socket

import pytest

from gateway import addresses as interfaces
from gateway.addresses import (
    IFF_LOOPBACK, IFF_MULTICAST, IFF_UP, address_of, bare_address, client_key, is_loopback, local_addresses,
)

UP = IFF_UP | IFF_MULTICAST
HOST = {
    "lo": (IFF_UP | IFF_LOOPBACK, 1, {
        socket.AF_INET: [{"addr": "127.0.0.1", "netmask": "255.0.0.0", "peer": "127.0.0.1"}],
        socket.AF_INET6: [{"addr": "::1", "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}]}),
    "eth0": (UP, 2, {
        socket.AF_INET: [{"addr": "192.168.1.5", "netmask": "255.255.255.0", "broadcast": "192.168.1.255"}],
        socket.AF_INET6: [{"addr": "fe80::5%eth0", "netmask": "ffff:ffff:ffff:ffff::/64"}]}),
    "wlan0": (IFF_MULTICAST, 3, {socket.AF_INET: [{"addr": "10.0.0.7", "netmask": "255.255.255.0"}]}),
}


@pytest.fixture(autouse=True)
def fake_host(monkeypatch):
    monkeypatch.setattr(interfaces.netifaces, "interfaces", lambda: list(HOST))
    monkeypatch.setattr(interfaces.netifaces, "ifaddresses", lambda name: HOST[name][2])
    monkeypatch.setattr(interfaces, "_flags", lambda name: HOST[name][0] if name in HOST else None)
    monkeypatch.setattr(interfaces.socket, "if_nametoindex", lambda name: HOST[name][1])


def test_default_is_every_up_interface_except_loopback():
    assert {(a.ifname, a.address) for a in local_addresses(None)} == {("eth0", "192.168.1.5"), ("eth0", "fe80::5")}


def test_ipv6_link_local_loses_its_zone_and_keeps_its_prefix():
    [ll] = [a for a in local_addresses(["eth0"]) if a.family == socket.AF_INET6]
    assert (ll.address, ll.network, ll.ifindex, ll.is_link_local) == ("fe80::5", ipaddress.ip_network("fe80::/64"),
                                                                      2, True)


def test_named_interfaces_may_include_lo_where_ipv6_is_skipped_for_lack_of_multicast():
    assert {(a.ifname, a.address) for a in local_addresses(["lo"])} == {("lo", "127.0.0.1")}


def test_ipv6_can_be_turned_off():
    assert {a.family for a in local_addresses(None, ipv6=False)} == {socket.AF_INET}


def test_an_interface_that_is_down_or_missing_contributes_nothing(monkeypatch):
    def missing(name):
        raise OSError("no such device")
    assert local_addresses(["wlan0"]) == frozenset()
    monkeypatch.setattr(interfaces.socket, "if_nametoindex", missing)
    assert local_addresses(["eth9"]) == frozenset()


@pytest.mark.parametrize("host,expected", [
    ("192.168.1.5", "192.168.1.5"), ("::ffff:192.168.1.5", "192.168.1.5"), ("[fe80::1%eth0]", "fe80::1"),
    ("fe80::1%2", "fe80::1"), ("printer.local", None), ("", None)])
def test_a_host_string_is_read_as_the_address_it_is(host, expected):
    address = address_of(host)
    assert (str(address) if address else None) == expected


def test_a_mapped_address_stays_ipv6_where_the_link_matters():
    assert bare_address("::ffff:192.168.1.5").version == 6


@pytest.mark.parametrize("host,key", [("::ffff:10.0.0.7", "10.0.0.7"), ("10.0.0.7", "10.0.0.7"),
                                      ("fe80::7%eth0", "fe80::7%eth0"), ("?", "?")])
def test_a_client_of_the_dual_stack_socket_is_named_by_its_ipv4_address(host, key):
    assert client_key(host) == key


@pytest.mark.parametrize("host,local", [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.2", True),
                                        ("192.168.1.5", False), ("localhost", False)])
def test_loopback_in_any_spelling_of_an_address(host, local):
    assert is_loopback(host) is local
