"""Network interfaces and addresses coming and going, from rtnetlink, on the reactor.

Every announcer follows the machine's addresses: WS-Discovery says Hello from
each with its own XAddrs and stops answering on one that is gone, eSCL's mDNS
records name them. The kernel tells every NETLINK_ROUTE socket subscribed to
the link and address groups the moment something changes, so nobody needs to
poll. An IPv6 address is reported only once duplicate address detection has
finished: before that it cannot even be bound to (EADDRNOTAVAIL).

A plain socket, not pyroute2: four message types and two fixed structures
are a page of code, read without a thread and without a library whose
internals changed between Debian's 0.7 and the current 0.9. At start the
present links and addresses are read (a dump on the same socket), so that a
lifetime refresh of an address already there is not taken for a new one.
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from twisted.internet import defer, error
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from gateway.osevents.settle import Settler

log = Logger()

# linux/rtnetlink.h, linux/netlink.h, linux/if_addr.h, linux/if_link.h, linux/if.h
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_FLAGS = 1, 2, 3, 8
IFA_F_OPTIMISTIC, IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x04, 0x08, 0x40
IFLA_IFNAME = 3
IFF_UP = 0x1

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, interface index, flags, change mask
RTATTR = struct.Struct("=HH")  # length, type

SETTLE = 0.2
"""Seconds of quiet before a change is reported (an interface going down takes its addresses in a burst)."""
LONGEST = 1.0
"""A change is reported within this, however busy the burst: a Hello follows within the issue's 2 s."""
MAX_READS = 64
RECEIVE_BUFFER = 1 << 20


class Change(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"


class LinkState(enum.Enum):
    UP = "up"
    DOWN = "down"
    GONE = "gone"


@dataclass(frozen=True, order=True)
class Address:
    """One usable local address (IPv6 without its zone)."""

    ifindex: int
    ifname: str | None
    family: int
    address: str
    prefixlen: int

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen} on {self.ifname or f'interface {self.ifindex}'}"


@dataclass(frozen=True)
class AddressEvent:
    change: Change
    address: Address


@dataclass(frozen=True)
class LinkEvent:
    state: LinkState
    ifindex: int
    ifname: str


@dataclass(frozen=True)
class NetworkChange:
    """One settled burst: announcers look at their interfaces again."""

    events: tuple[AddressEvent | LinkEvent, ...]
    lost_events: bool = False
    """The receive buffer overflowed: anything may have changed."""

    @property
    def added(self) -> tuple[Address, ...]:
        return tuple(e.address for e in self.events if isinstance(e, AddressEvent) and e.change is Change.ADDED)

    @property
    def removed(self) -> tuple[Address, ...]:
        return tuple(e.address for e in self.events if isinstance(e, AddressEvent) and e.change is Change.REMOVED)


@dataclass(frozen=True)
class Message:
    type: int
    flags: int
    seq: int
    port: int
    payload: bytes


def messages(data: bytes) -> Iterator[Message]:
    """The netlink messages of one datagram (several may share it); a truncated tail is dropped."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, type_, flags, seq, port = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            return
        yield Message(type_, flags, seq, port, data[offset + NLMSGHDR.size:offset + length])
        offset += (length + 3) & ~3


def attributes(data: bytes, offset: int) -> dict[int, bytes]:
    found = {}
    while offset + RTATTR.size <= len(data):
        length, type_ = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > len(data):
            break
        found[type_] = data[offset + RTATTR.size:offset + length]
        offset += (length + 3) & ~3
    return found


@dataclass(frozen=True)
class RawAddress:
    family: int
    prefixlen: int
    flags: int
    ifindex: int
    address: str
    label: str | None

    @property
    def usable(self) -> bool:
        """Not waiting for (or failed by) duplicate address detection; an optimistic one may be used."""
        if self.flags & IFA_F_DADFAILED:
            return False
        return not self.flags & IFA_F_TENTATIVE or bool(self.flags & IFA_F_OPTIMISTIC)


def parse_address(payload: bytes) -> RawAddress | None:
    if len(payload) < IFADDRMSG.size:
        return None
    family, prefixlen, flags, _scope, ifindex = IFADDRMSG.unpack_from(payload)
    attrs = attributes(payload, IFADDRMSG.size)
    if IFA_FLAGS in attrs and len(attrs[IFA_FLAGS]) >= 4:
        flags = struct.unpack_from("=I", attrs[IFA_FLAGS])[0]  # the full 32 bits; ifa_flags has 8
    # IPv4: IFA_LOCAL is ours (IFA_ADDRESS is the peer's on a point-to-point link); IPv6 has IFA_ADDRESS only.
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    try:
        if family == socket.AF_INET and raw and len(raw) == 4:
            address = str(ipaddress.IPv4Address(raw))
        elif family == socket.AF_INET6 and raw and len(raw) == 16:
            address = str(ipaddress.IPv6Address(raw))
        else:
            return None
    except ValueError:
        return None
    label = attrs.get(IFA_LABEL, b"").split(b"\0", 1)[0].decode(errors="replace") or None
    return RawAddress(family, prefixlen, flags, ifindex, address, label)


def parse_link(payload: bytes) -> tuple[int, int, str | None] | None:
    """(interface index, IFF_* flags, name)."""
    if len(payload) < IFINFOMSG.size:
        return None
    _family, _type, ifindex, flags, _change = IFINFOMSG.unpack_from(payload)
    name = attributes(payload, IFINFOMSG.size).get(IFLA_IFNAME, b"").split(b"\0", 1)[0]
    return ifindex, flags, name.decode(errors="replace") or None


class NetworkState:
    """The links and usable addresses known so far; turns rtnetlink messages into the changes they make.

    ``quiet`` messages (replies to our own dump) update what is known without being reported.
    """

    def __init__(self):
        self.links: dict[int, tuple[str, bool]] = {}
        self.addresses: set[Address] = set()

    def clear(self) -> None:
        self.links.clear()
        self.addresses.clear()

    def _name(self, ifindex: int, label: str | None) -> str | None:
        if ifindex in self.links:
            return self.links[ifindex][0]
        if label:
            return label.split(":", 1)[0]  # an IPv4 alias label is "eth0:1"
        try:
            return socket.if_indextoname(ifindex)
        except OSError:
            return None

    def take(self, message: Message) -> list[AddressEvent | LinkEvent]:
        if message.type in (RTM_NEWADDR, RTM_DELADDR):
            return self._address(message)
        if message.type in (RTM_NEWLINK, RTM_DELLINK):
            return self._link(message)
        return []

    def _address(self, message: Message) -> list[AddressEvent | LinkEvent]:
        raw = parse_address(message.payload)
        if raw is None:
            return []
        address = Address(raw.ifindex, self._name(raw.ifindex, raw.label), raw.family, raw.address, raw.prefixlen)
        known = next((a for a in self.addresses if (a.ifindex, a.family, a.address, a.prefixlen)
                      == (address.ifindex, address.family, address.address, address.prefixlen)), None)
        if message.type == RTM_NEWADDR and raw.usable:
            if known is not None:
                return []  # a refresh of its lifetimes, or a flag that does not matter here
            self.addresses.add(address)
            return [AddressEvent(Change.ADDED, address)]
        # Deleted, or not (or no longer) usable: DAD runs again after a link comes back up.
        if known is None:
            return []
        self.addresses.discard(known)
        return [AddressEvent(Change.REMOVED, known)]

    def _link(self, message: Message) -> list[AddressEvent | LinkEvent]:
        parsed = parse_link(message.payload)
        if parsed is None:
            return []
        ifindex, flags, name = parsed
        before = self.links.get(ifindex)
        if message.type == RTM_DELLINK:
            if before is None:
                return []
            del self.links[ifindex]
            gone = sorted(a for a in self.addresses if a.ifindex == ifindex)
            self.addresses.difference_update(gone)
            return [AddressEvent(Change.REMOVED, a) for a in gone] + [LinkEvent(LinkState.GONE, ifindex, before[0])]
        name = name or (before[0] if before else str(ifindex))
        now = (name, bool(flags & IFF_UP))
        if now == before:
            return []
        self.links[ifindex] = now
        return [LinkEvent(LinkState.UP if now[1] else LinkState.DOWN, ifindex, name)]


def open_route_socket(groups: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                         socket.NETLINK_ROUTE)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            pass  # the default is enough but for a storm; an overflow is then reported as such
        sock.bind((0, groups))
    except BaseException:
        sock.close()
        raise
    return sock


class NetworkWatchUnavailable(Exception):
    """rtnetlink cannot be read here: address changes go unnoticed."""


@implementer(IReadDescriptor)
class NetworkWatcher:
    """Calls ``on_change(NetworkChange)`` on the reactor when an interface or a usable address
    comes or goes; ``state`` holds what is known now."""

    def __init__(self, on_change: Callable[[NetworkChange], None], *, reactor=None, ipv6: bool = True,
                 open_socket: Callable[[int], socket.socket] = open_route_socket,
                 settle: float = SETTLE, longest: float = LONGEST):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._on_change = on_change
        self._groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | (RTMGRP_IPV6_IFADDR if ipv6 else 0)
        self._family = socket.AF_UNSPEC if ipv6 else socket.AF_INET
        self._open_socket = open_socket
        self._sock: socket.socket | None = None
        self.state = NetworkState()
        self._dumps: list[int] = []
        self._dump_seq = 0
        self._port = 0
        self._lost = False
        self._read_present: defer.Deferred | None = None
        self._settler: Settler[AddressEvent | LinkEvent | None] = Settler(reactor, self._deliver, settle, longest)

    @property
    def watching(self) -> bool:
        return self._sock is not None

    def start(self) -> defer.Deferred:
        """Open the socket (raises NetworkWatchUnavailable) and read what is there now; the Deferred fires
        with ``state`` once that is known: every change reported after it is news."""
        if self._sock is not None:
            raise RuntimeError("the network watcher is running already")
        try:
            self._sock = self._open_socket(self._groups)
        except OSError as e:
            raise NetworkWatchUnavailable(f"cannot open a netlink route socket: {e}") from None
        self._port = self._sock.getsockname()[0]
        self._read_present = defer.Deferred()
        read = self._read_present
        self._dump_all()
        self._reactor.addReader(self)
        log.info("watching network interfaces and addresses through netlink")
        return read

    def stop(self) -> None:
        if self._sock is None:
            return
        self._reactor.removeReader(self)
        self._settler.cancel()
        sock, self._sock = self._sock, None
        sock.close()
        read, self._read_present = self._read_present, None
        if read is not None:
            read.errback(NetworkWatchUnavailable("stopped before the present interfaces were read"))

    def _dump_all(self) -> None:
        """Ask for the present links, then the addresses (one dump at a time per socket)."""
        self.state.clear()
        self._dumps = [RTM_GETLINK, RTM_GETADDR]
        self._next_dump()

    def _next_dump(self) -> None:
        if not self._dumps or self._sock is None:
            read, self._read_present = self._read_present, None
            if read is not None:
                read.callback(self.state)
            return
        kind = self._dumps.pop(0)
        self._dump_seq += 1
        body = (IFINFOMSG.pack(self._family, 0, 0, 0, 0) if kind == RTM_GETLINK
                else IFADDRMSG.pack(self._family, 0, 0, 0, 0))
        header = NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, self._dump_seq, 0)
        try:
            self._sock.send(header + body)
        except OSError as e:
            log.warn("could not read the present interfaces ({error}); changes are still followed", error=e)
            self._dumps.clear()
            self._next_dump()

    # IReadDescriptor

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def logPrefix(self) -> str:
        return "netlink-route"

    def doRead(self) -> None:
        for _ in range(MAX_READS):
            if self._sock is None:
                return
            try:
                data = self._sock.recv(1 << 16)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    log.warn("network events were lost (receive buffer full): every interface is looked at again")
                    self._lost = True
                    self._settler.add(None)
                    self._dump_all()
                    continue
                self._failed(e)
                return
            for message in messages(data):
                self._take(message)

    def connectionLost(self, reason: Failure) -> None:
        """The reactor let go of the socket: at its shutdown (quietly), or because doRead raised."""
        if reason.check(error.ConnectionDone, error.ConnectionLost):
            self.stop()
        elif self._sock is not None:
            self._failed(reason.value)

    def _failed(self, error: BaseException) -> None:
        log.error("watching the network stopped ({error}): new addresses are announced only after a restart",
                  error=error)
        self.stop()

    def _take(self, message: Message) -> None:
        ours = message.port == self._port and message.seq == self._dump_seq and message.seq != 0
        if ours and message.type in (NLMSG_DONE, NLMSG_ERROR):
            if message.type == NLMSG_ERROR and len(message.payload) >= 4:
                code = -struct.unpack_from("=i", message.payload)[0]
                if code:
                    log.warn("reading the present interfaces failed: {error}", error=errno.errorcode.get(code, code))
            self._next_dump()
            return
        events = self.state.take(message)
        if ours:
            return  # what was there when we started: known, not news
        for event in events:
            self._settler.add(event)

    def _deliver(self, items: tuple[AddressEvent | LinkEvent | None, ...]) -> None:
        change = NetworkChange(tuple(e for e in items if e is not None), lost_events=self._lost)
        self._lost = False
        for event in change.events:
            if isinstance(event, AddressEvent):
                log.info("address {address} {change}", address=event.address, change=event.change.value)
            else:
                log.info("interface {ifname} is {state}", ifname=event.ifname, state=event.state.value)
        self._on_change(change)
