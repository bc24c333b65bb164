"""The WS-Discovery announcer: sockets per interface and address, Hello/Bye, answers.

Sockets, one set per chosen interface:

- a *receiver* per (interface, family), bound to the group address
  (239.255.255.250 or ff02::c) on UDP 3702 with SO_REUSEADDR and SO_REUSEPORT,
  so wsdd and sane-airscan on the same host keep working, and with
  IP(V6)_MULTICAST_ALL off (plus the IPv6 scope id), so that it only sees what
  arrives on its own interface: that is how we know where a probe came in;
- a *sender* per local address, bound to that address on an ephemeral port: it
  sends Hello/Bye to the group out of that interface, and unicast answers whose
  source address is the one named in their XAddrs (Windows drops answers
  whose XAddrs do not name the sender). Unicast UDP 3702 and TCP 5357 stay free.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence

from twisted.application.service import Service
from twisted.internet import defer, error
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.addresses import LocalAddress, bare_address, local_addresses
from gateway.wsd.discovery.messages import build_bye, build_hello
from gateway.wsd.discovery.responder import (
    MAX_DATAGRAM, AppSequenceCounter, DiscoverableDevice, Responder, target_for,
)

GROUP4 = "239.255.255.250"
GROUP6 = "ff02::c"
PORT = 3702

# SOAP-over-UDP retransmission (seconds); REPEAT counts every copy sent, the first included.
MULTICAST_UDP_REPEAT = 4
UNICAST_UDP_REPEAT = 2
UDP_MIN_DELAY = 0.050
UDP_MAX_DELAY = 0.250
UDP_UPPER_DELAY = 0.500
APP_MAX_DELAY = 0.500
"""WS-Discovery's random wait before answering a multicast Probe or Resolve."""

POLL_INTERVAL = 5.0
"""How often the interface addresses are read again where nobody tells of changes (netifaces is cheap:
one netlink dump)."""

# Linux values, missing from Python's socket module.
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
IPV6_MULTICAST_ALL = getattr(socket, "IPV6_MULTICAST_ALL", 29)

log = Logger()


def transmission_times(repeat: int, rng: random.Random | None = None) -> list[float]:
    """When each copy of a message goes out: SOAP-over-UDP's randomised, doubling back-off."""
    rng = rng or random
    times = [0.0]
    delay = rng.uniform(UDP_MIN_DELAY, UDP_MAX_DELAY)
    while len(times) < repeat:
        times.append(times[-1] + delay)
        delay = min(delay * 2, UDP_UPPER_DELAY)
    return times


def _mreqn(address: str, ifindex: int, group: str = "0.0.0.0") -> bytes:
    return struct.pack("=4s4si", socket.inet_aton(group), socket.inet_aton(address), ifindex)


def open_receiver_socket(family: int, ifindex: int, port: int = PORT) -> socket.socket:
    """Bound to the group on ``port``, shared with other WS-Discovery daemons, this interface only."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.bind((GROUP4, port))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, _mreqn("0.0.0.0", ifindex, GROUP4))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            sock.bind((GROUP6, port, 0, ifindex))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                            socket.inet_pton(socket.AF_INET6, GROUP6) + struct.pack("=I", ifindex))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def open_sender_socket(local: LocalAddress) -> socket.socket:
    """Bound to ``local`` so unicast answers carry it as source; multicast leaves by its interface."""
    sock = socket.socket(local.family, socket.SOCK_DGRAM)
    try:
        if local.family == socket.AF_INET:
            sock.bind((local.address, 0))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _mreqn(local.address, local.ifindex))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((local.address, 0, 0, local.ifindex if local.is_link_local else 0))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, local.ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Receiver(DatagramProtocol):
    """Hands each datagram to the service with the link it arrived on."""

    noisy = False

    def __init__(self, on_datagram: Callable[[tuple[str, int, int], bytes, tuple], None], link: tuple[str, int, int]):
        self._on_datagram = on_datagram
        self.link = link

    def datagramReceived(self, data: bytes, addr: tuple) -> None:
        self._on_datagram(self.link, data, addr)


class _Sender(DatagramProtocol):
    """Sends from one local address and keeps track of copies still to go out."""

    noisy = False

    def __init__(self, local: LocalAddress, clock, port: int):
        self.local = local
        self._clock = clock
        self._pending: dict[defer.Deferred, list] = {}
        self._failing = False
        group = GROUP4 if local.family == socket.AF_INET else GROUP6
        self.group = self.destination(group, port)

    def destination(self, host: str, port: int) -> tuple:
        """IPv6 link-scope destinations need our interface's scope id."""
        address = bare_address(host)
        if address is not None and address.version == 6 and (
                address.is_link_local or (address.is_multicast and address.packed[1] & 0x0F == 2)):
            return (host, port, 0, self.local.ifindex)
        return (host, port)

    def datagramReceived(self, data: bytes, addr: tuple) -> None:
        """Nobody should write to this ephemeral port; whatever comes is dropped."""

    def _write(self, payload: bytes, destination: tuple) -> None:
        """A failing address is logged once, not once per copy, until a send works again."""
        try:
            self.transport.write(payload, destination)
        except (OSError, error.MessageLengthError) as e:
            if not self._failing:
                log.warn("Could not send a discovery message to {host} from {local}: {error}",
                         host=destination[0], local=self.local.address, error=e)
            self._failing = True
        else:
            self._failing = False

    def transmit(self, payload: bytes, destination: tuple, times: Sequence[float]) -> defer.Deferred:
        """Send ``payload`` at each offset of ``times``; the Deferred fires after the last copy."""
        done = defer.Deferred()
        calls = []

        def send(last: bool) -> None:
            self._write(payload, destination)
            if last:
                del self._pending[done]
                done.callback(None)

        for i, at in enumerate(times):
            calls.append(self._clock.callLater(at, send, i == len(times) - 1))
        self._pending[done] = calls
        return done

    def cancel_pending(self) -> None:
        """Drop copies not sent yet (a stale Hello must not follow our Bye)."""
        pending, self._pending = self._pending, {}
        for done, calls in pending.items():
            for call in calls:
                if call.active():
                    call.cancel()
            done.callback(None)


class DiscoveryService(Service):
    """Announces every device on every chosen interface and answers Probe and Resolve."""

    def __init__(self, devices: Callable[[], Iterable[DiscoverableDevice]], *,
                 interfaces: Sequence[str] | None = None, ipv6: bool = True, instance_id: int | None = None,
                 allowed_networks: Sequence[str] = (), reactor=None, port: int = PORT,
                 poll_interval: float | None = POLL_INTERVAL, on_probe: Callable[[str, str], None] | None = None):
        """``on_probe(interface, host)`` is told of each Probe a client on that interface sends."""
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._devices = devices
        self._names = list(interfaces) if interfaces is not None else None
        self._ipv6 = ipv6
        self._port = port
        self.sequence = AppSequenceCounter(int(time.time()) if instance_id is None else instance_id)
        self._responder = Responder(
            devices, self.sequence, reactor, allowed_networks,
            on_probe=None if on_probe is None else lambda host, link: on_probe(link[0].ifname, host))
        self._receivers: dict[tuple[str, int, int], _Receiver] = {}
        self._senders: dict[LocalAddress, _Sender] = {}
        self._failed: set[LocalAddress] = set()
        self._poll = LoopingCall(self._refresh)
        self._poll.clock = reactor
        self._poll_interval = poll_interval
        """None: ``addresses_changed`` is called whenever the OS reports a change (netlink), no polling."""

    @property
    def addresses(self) -> frozenset[LocalAddress]:
        """The addresses announced on right now."""
        return frozenset(self._senders)

    def startService(self) -> None:
        super().startService()
        if self._poll_interval is None:
            self._refresh()
        else:
            self._poll.start(self._poll_interval, now=True)

    def addresses_changed(self) -> None:
        """An address or interface came or went: Hello on new addresses at once, old ones closed."""
        if self.running:
            self._refresh()

    def stopService(self) -> defer.Deferred:
        super().stopService()
        if self._poll.running:
            self._poll.stop()
        byes = []
        devices = list(self._devices())
        for sender in self._senders.values():
            sender.cancel_pending()
            byes.extend(self._bye(sender, device) for device in devices)
        done = defer.DeferredList(byes)
        done.addCallback(lambda _: self._close_all())
        return done

    def device_added(self, device: DiscoverableDevice) -> None:
        for sender in self._senders.values():
            self._hello(sender, device)

    def device_changed(self, device: DiscoverableDevice) -> None:
        """A Hello with the new MetadataVersion makes clients fetch the metadata again."""
        self.device_added(device)

    def device_removed(self, device: DiscoverableDevice) -> None:
        for sender in self._senders.values():
            self._bye(sender, device)

    def _hello(self, sender: _Sender, device: DiscoverableDevice) -> defer.Deferred:
        payload = build_hello(target_for(device, sender.local), self.sequence.next())
        return sender.transmit(payload, sender.group, transmission_times(MULTICAST_UDP_REPEAT))

    def _bye(self, sender: _Sender, device: DiscoverableDevice) -> defer.Deferred:
        payload = build_bye(device.endpoint, self.sequence.next())
        return sender.transmit(payload, sender.group, transmission_times(MULTICAST_UDP_REPEAT))

    def _refresh(self) -> None:
        """Open sockets and say Hello on new addresses; close those of vanished ones."""
        try:
            current = local_addresses(self._names, self._ipv6)
        except Exception as e:
            log.warn("Could not read the interface addresses: {error}", error=e)
            return
        self._failed &= current
        for local in set(self._senders) - current:
            self._close_sender(local)
        for link in set(self._receivers) - {a.link for a in current}:
            self._receivers.pop(link).transport.stopListening()
        for local in sorted(current - set(self._senders)):
            self._open(local)

    def _adopt(self, sock: socket.socket, protocol: DatagramProtocol) -> None:
        """The reactor gets its own duplicate of the descriptor, ours is closed."""
        try:
            self._reactor.adoptDatagramPort(sock.fileno(), sock.family, protocol, maxPacketSize=MAX_DATAGRAM + 1)
        finally:
            sock.close()

    def _open(self, local: LocalAddress) -> None:
        try:
            if local.link not in self._receivers:
                receiver = _Receiver(self._received, local.link)
                self._adopt(open_receiver_socket(local.family, local.ifindex, self._port), receiver)
                self._receivers[local.link] = receiver
            sender = _Sender(local, self._reactor, self._port)
            self._adopt(open_sender_socket(local), sender)
        except OSError as e:
            if local not in self._failed:
                log.warn("Cannot announce on {ifname} {address} yet: {error}",
                         ifname=local.ifname, address=local.address, error=e)
                self._failed.add(local)
            return
        self._failed.discard(local)
        self._senders[local] = sender
        log.info("Announcing on {ifname} {address}", ifname=local.ifname, address=local.address)
        for device in self._devices():
            self._hello(sender, device)

    def _close_sender(self, local: LocalAddress) -> None:
        sender = self._senders.pop(local)
        sender.cancel_pending()
        sender.transport.stopListening()
        log.info("Stopped announcing on {ifname} {address}", ifname=local.ifname, address=local.address)

    def _close_all(self) -> None:
        for local in list(self._senders):
            self._close_sender(local)
        for receiver in self._receivers.values():
            receiver.transport.stopListening()
        self._receivers.clear()

    def _received(self, link: tuple[str, int, int], data: bytes, addr: tuple) -> None:
        host, port = addr[0], addr[1]
        on_link = [a for a in self._senders if a.link == link]
        answers = self._responder.answer(data, host, on_link)
        delay = random.uniform(0, APP_MAX_DELAY)
        for answer in answers:
            sender = self._senders[answer.local]
            times = [delay + t for t in transmission_times(UNICAST_UDP_REPEAT)]
            sender.transmit(answer.payload, sender.destination(host, port), times)
