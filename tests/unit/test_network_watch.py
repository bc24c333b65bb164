"""The rtnetlink watcher's decisions, from hand-built netlink datagrams on a fake socket (the OS boundary).

The real socket, with addresses added to a veth in a network namespace, is
tests/netns/test_os_events_netns.py.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections import deque

import pytest
from twisted.internet import error
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from gateway.osevents.network import (
    IFA_ADDRESS, IFA_F_DADFAILED, IFA_F_OPTIMISTIC, IFA_F_TENTATIVE, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFADDRMSG,
    IFF_UP, IFINFOMSG, IFLA_IFNAME, LONGEST, NLMSG_DONE, NLMSGHDR, RTM_DELADDR, RTM_DELLINK, RTM_GETADDR,
    RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, SETTLE, LinkEvent, LinkState, NetworkWatchUnavailable,
    NetworkWatcher, messages,
)

PORT = 4242


def rtattr(type_: int, value: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(value), type_) + value
    return data + b"\0" * (-len(data) % 4)


def nlmsg(type_: int, payload: bytes, seq: int = 0, port: int = 0) -> bytes:
    data = NLMSGHDR.pack(NLMSGHDR.size + len(payload), type_, 0, seq, port) + payload
    return data + b"\0" * (-len(data) % 4)


def addr(type_: int, address: str, ifindex: int = 2, prefixlen: int = 24, flags: int = 0, label: str | None = None,
         seq: int = 0, port: int = 0) -> bytes:
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    payload = IFADDRMSG.pack(family, prefixlen, flags & 0xFF, 0, ifindex) + rtattr(IFA_ADDRESS, ip.packed)
    if ip.version == 4:
        payload += rtattr(IFA_LOCAL, ip.packed)
    if label:
        payload += rtattr(IFA_LABEL, label.encode() + b"\0")
    payload += rtattr(IFA_FLAGS, struct.pack("=I", flags))
    return nlmsg(type_, payload, seq, port)


def link(type_: int, ifindex: int, name: str, up: bool = True, seq: int = 0, port: int = 0) -> bytes:
    payload = IFINFOMSG.pack(0, 1, ifindex, IFF_UP if up else 0, 0) + rtattr(IFLA_IFNAME, name.encode() + b"\0")
    return nlmsg(type_, payload, seq, port)


class FakeRouteSocket:
    """Answers our two dumps with ``present``, then hands out what the test queues."""

    def __init__(self, present_links=(), present_addresses=()):
        self.queue: deque = deque()
        self.requests: list[int] = []
        self.present = {RTM_GETLINK: list(present_links), RTM_GETADDR: list(present_addresses)}
        self.closed = False

    def getsockname(self):
        return (PORT, 0)

    def fileno(self):
        return 77

    def send(self, data: bytes) -> int:
        (request,) = messages(data)
        self.requests.append(request.type)
        replies = [make(seq=request.seq, port=PORT) for make in self.present[request.type]]
        self.queue.append(b"".join(replies) + nlmsg(NLMSG_DONE, b"\0" * 4, request.seq, PORT))
        return len(data)

    def recv(self, size: int) -> bytes:
        if not self.queue:
            raise BlockingIOError(errno.EAGAIN, "no data")
        item = self.queue.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self.closed = True


@pytest.fixture
def make():
    def make(**present):
        reactor, changes = MemoryReactorClock(), []
        sock = FakeRouteSocket(**present)
        watcher = NetworkWatcher(changes.append, reactor=reactor, open_socket=lambda groups: sock)
        watcher.start()
        watcher.doRead()  # the dump replies
        return reactor, sock, watcher, changes
    return make


def feed(reactor, sock, watcher, *datagrams):
    sock.queue.extend(datagrams)
    watcher.doRead()
    reactor.advance(LONGEST)


def test_links_then_addresses_present_at_start_are_known_but_not_reported(make):
    reactor, sock, watcher, changes = make(
        present_links=[lambda **kw: link(RTM_NEWLINK, 2, "eth0", **kw)],
        present_addresses=[lambda **kw: addr(RTM_NEWADDR, "192.168.1.5", **kw)])
    reactor.advance(LONGEST)
    assert sock.requests == [RTM_GETLINK, RTM_GETADDR]
    assert [str(a) for a in watcher.state.addresses] == ["192.168.1.5/24 on eth0"]
    assert changes == []


def test_start_says_when_the_present_state_is_known():
    sock = FakeRouteSocket(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "192.168.1.5", **kw)])
    watcher = NetworkWatcher(lambda change: None, reactor=MemoryReactorClock(), open_socket=lambda groups: sock)
    known = []
    watcher.start().addCallback(lambda state: known.append(sorted(a.address for a in state.addresses)))
    assert known == []
    watcher.doRead()
    assert known == [["192.168.1.5"]]


def test_start_still_finishes_when_the_present_state_cannot_be_asked_for():
    class Refusing(FakeRouteSocket):
        def send(self, data):
            raise OSError(errno.EPERM, "Operation not permitted")
    watcher = NetworkWatcher(lambda change: None, reactor=MemoryReactorClock(), open_socket=lambda groups: Refusing())
    known = []
    watcher.start().addCallback(known.append)
    assert known == [watcher.state]


def test_an_address_added_is_reported_with_its_interface_once_settled(make):
    reactor, sock, watcher, changes = make(present_links=[lambda **kw: link(RTM_NEWLINK, 2, "eth0", **kw)])
    sock.queue.append(addr(RTM_NEWADDR, "10.0.0.7"))
    watcher.doRead()
    reactor.advance(SETTLE - 0.01)
    assert changes == []
    reactor.advance(0.02)
    (added,) = changes[0].added
    assert (added.ifname, added.family, added.address, added.prefixlen) == ("eth0", socket.AF_INET, "10.0.0.7", 24)


def test_an_address_removed_is_reported(make):
    reactor, sock, watcher, changes = make(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "10.0.0.7", **kw)])
    feed(reactor, sock, watcher, addr(RTM_DELADDR, "10.0.0.7"))
    assert [a.address for a in changes[0].removed] == ["10.0.0.7"]


def test_a_tentative_ipv6_address_is_reported_only_once_dad_has_finished(make):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "fd00::5", prefixlen=64, flags=IFA_F_TENTATIVE))
    assert changes == []
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "fd00::5", prefixlen=64))
    assert [a.address for a in changes[0].added] == ["fd00::5"]


def test_an_address_that_failed_dad_is_never_reported(make):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "fd00::5", prefixlen=64, flags=IFA_F_TENTATIVE),
         addr(RTM_NEWADDR, "fd00::5", prefixlen=64, flags=IFA_F_TENTATIVE | IFA_F_DADFAILED),
         addr(RTM_DELADDR, "fd00::5", prefixlen=64, flags=IFA_F_DADFAILED))
    assert changes == []


def test_an_optimistic_address_may_be_used_at_once(make):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "fd00::6", prefixlen=64, flags=IFA_F_TENTATIVE | IFA_F_OPTIMISTIC))
    assert [a.address for a in changes[0].added] == ["fd00::6"]


def test_an_address_going_tentative_again_is_removed_until_dad_passes(make):
    reactor, sock, watcher, changes = make(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "fd00::5", prefixlen=64,
                                                                                **kw)])
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "fd00::5", prefixlen=64, flags=IFA_F_TENTATIVE))
    assert [a.address for a in changes[0].removed] == ["fd00::5"]


def test_a_lifetime_refresh_of_a_known_address_is_not_news(make):
    reactor, sock, watcher, changes = make(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "10.0.0.7", **kw)])
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "10.0.0.7"))
    assert changes == []


def test_the_same_address_with_another_prefix_is_another_address(make):
    reactor, sock, watcher, changes = make(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "10.0.0.7", **kw)])
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "10.0.0.7", prefixlen=16))
    assert [a.prefixlen for a in changes[0].added] == [16]


def test_an_ipv4_alias_label_names_its_interface(make):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "10.0.0.8", ifindex=999, label="eth9:1"))
    assert changes[0].added[0].ifname == "eth9"


def test_a_link_going_up_and_down_is_reported_and_other_link_news_is_not(make):
    reactor, sock, watcher, changes = make(present_links=[lambda **kw: link(RTM_NEWLINK, 3, "wlan0", up=False, **kw)])
    feed(reactor, sock, watcher, link(RTM_NEWLINK, 3, "wlan0", up=True), link(RTM_NEWLINK, 3, "wlan0", up=True))
    assert changes[0].events == (LinkEvent(LinkState.UP, 3, "wlan0"),)
    feed(reactor, sock, watcher, link(RTM_NEWLINK, 3, "wlan0", up=False))
    assert changes[1].events == (LinkEvent(LinkState.DOWN, 3, "wlan0"),)


def test_a_link_deleted_takes_its_addresses_with_it(make):
    reactor, sock, watcher, changes = make(present_links=[lambda **kw: link(RTM_NEWLINK, 2, "eth0", **kw)],
                                           present_addresses=[lambda **kw: addr(RTM_NEWADDR, "10.0.0.7", **kw)])
    feed(reactor, sock, watcher, link(RTM_DELLINK, 2, "eth0"))
    assert [a.address for a in changes[0].removed] == ["10.0.0.7"]
    assert changes[0].events[-1] == LinkEvent(LinkState.GONE, 2, "eth0")
    assert watcher.state.addresses == set()


def test_several_messages_in_one_datagram_are_all_read(make):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "10.0.0.1") + addr(RTM_NEWADDR, "10.0.0.2"))
    assert sorted(a.address for a in changes[0].added) == ["10.0.0.1", "10.0.0.2"]


def test_a_truncated_message_is_dropped_and_the_rest_of_the_datagram_kept():
    good = addr(RTM_NEWADDR, "10.0.0.1")
    assert [m.type for m in messages(good + good[:20])] == [RTM_NEWADDR]


def test_lost_events_are_reported_and_the_present_state_is_read_again(make):
    reactor, sock, watcher, changes = make(present_addresses=[lambda **kw: addr(RTM_NEWADDR, "10.0.0.7", **kw)])
    sock.present[RTM_GETADDR] = []  # it went away while events were lost
    feed(reactor, sock, watcher, OSError(errno.ENOBUFS, "No buffer space available"))
    assert changes[0].lost_events
    assert sock.requests == [RTM_GETLINK, RTM_GETADDR] * 2
    assert watcher.state.addresses == set()
    feed(reactor, sock, watcher, addr(RTM_NEWADDR, "10.0.0.7"))
    assert [a.address for a in changes[1].added] == ["10.0.0.7"]


def test_a_broken_socket_stops_the_watcher(make, logged):
    reactor, sock, watcher, changes = make()
    feed(reactor, sock, watcher, OSError(errno.EBADF, "Bad file descriptor"))
    assert not watcher.watching and sock.closed and watcher not in reactor.getReaders()
    assert [e["log_level"] for e in logged if "stopped" in e["log_format"]] == [LogLevel.error]


def test_no_netlink_is_a_clear_error():
    def refuse(groups):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
    watcher = NetworkWatcher(lambda change: None, reactor=MemoryReactorClock(), open_socket=refuse)
    with pytest.raises(NetworkWatchUnavailable, match="netlink"):
        watcher.start()


def test_without_ipv6_only_the_ipv4_groups_are_joined():
    groups = []

    def record(g):
        groups.append(g)
        return FakeRouteSocket()
    NetworkWatcher(lambda change: None, reactor=MemoryReactorClock(), ipv6=False, open_socket=record).start()
    assert groups == [0x1 | 0x10]


def test_the_reactor_letting_go_at_shutdown_stops_it_without_an_error(make, logged):
    reactor, sock, watcher, changes = make()
    watcher.connectionLost(Failure(error.ConnectionLost()))
    assert not watcher.watching and sock.closed
    assert [e for e in logged if e["log_level"] >= LogLevel.warn] == []
