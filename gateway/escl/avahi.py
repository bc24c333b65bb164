"""The eSCL scanners' mDNS announcement, published by the system's avahi-daemon over D-Bus (txdbus).

One avahi entry group per scanner holds its ``_uscan._tcp`` service, once per
announced interface. The announcer's states (``AnnouncerState``):

- STARTING: connecting to the system bus, asking for avahi.
- UNAVAILABLE: no system bus, or no avahi-daemon on it. Said once in the log
  (and kept in ``status()`` for the status page); nothing is retried in a loop:
  avahi's arrival is a D-Bus signal (NameOwnerChanged), a lost bus is tried
  again every ``BUS_RETRY`` seconds, quietly.
- ANNOUNCING: avahi runs; every scanner given is published (or being so).
- STOPPED: ``stop()`` freed every group and closed the bus.

Avahi's own events, and what follows:

- a name taken by another service (at AddService, or found later on the
  network: group state COLLISION) -> avahi's alternative name ("Name #2"),
  published again under it;
- avahi-daemon gone (NameOwnerChanged to nobody) -> its groups are gone with it;
  the scanners are published anew when it is back;
- avahi's host name changing (server state COLLISION/REGISTERING) -> groups reset,
  published again once the server is RUNNING.

Every sequence of calls to avahi runs under one lock, so that a restart or a
withdrawal never interleaves with a publication; a sequence begun before
avahi went away finds the epoch moved on and stops.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twisted.internet import defer
from twisted.logger import Logger
from txdbus import client as dbus_client
from txdbus.error import RemoteError

from gateway.announce import AnnouncedScanner, AnnouncerState, AnnouncerStatus
from gateway.escl.dnssd import SERVICE_TYPE, ServiceRecord

log = Logger()
dbus_client.DBusClientFactory.noisy = False
"""Twisted's "Starting factory" lines would be the only thing logged of each bus connection."""

AVAHI = "org.freedesktop.Avahi"
SERVER_PATH = "/"
SERVER = "org.freedesktop.Avahi.Server"
ENTRY_GROUP = "org.freedesktop.Avahi.EntryGroup"
DBUS = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
COLLISION_ERROR = "org.freedesktop.Avahi.CollisionError"
IF_UNSPEC = -1
PROTO_UNSPEC = -1
PROTO_INET = 0
ADD_SERVICE_SIGNATURE = "iiussssqaay"
CALL_TIMEOUT = 10.0
"""Seconds for one call to avahi: a daemon that hangs must not hold the announcer forever."""
BUS_RETRY = 30.0
"""Seconds between attempts to reach a system bus that was not there."""
MAX_RENAMES = 32
"""Alternative names tried for one scanner before giving up on it (and saying so)."""
PROTOCOL = "eSCL (mDNS)"
NOT_RUNNING = ("eSCL: avahi-daemon is not running, so the eSCL scanners are not announced by mDNS (WSD is not "
               "affected). Start it with: systemctl enable --now avahi-daemon")


class ServerState(enum.IntEnum):
    INVALID = 0
    REGISTERING = 1
    RUNNING = 2
    COLLISION = 3
    FAILURE = 4


class GroupState(enum.IntEnum):
    UNCOMMITTED = 0
    REGISTERING = 1
    ESTABLISHED = 2
    COLLISION = 3
    FAILURE = 4


RecordFor = Callable[[AnnouncedScanner, str], ServiceRecord]
"""The record to publish for a scanner, given avahi's host name (``pi.local``) for its absolute URLs."""


@dataclass
class _Entry:
    scanner: AnnouncedScanner
    name: str | None = None
    """The name it is published under: its own, or avahi's alternative after a collision."""
    group: str | None = None
    """The object path of its entry group, while avahi runs."""
    established: bool = False
    renames: int = 0


class AvahiAnnouncer:
    """Announces eSCL scanners through avahi-daemon; an ``gateway.announce.Announcer``."""

    def __init__(self, reactor, record_for: RecordFor, interfaces: Sequence[str] = (), ipv6: bool = True,
                 bus_address: str = "system", connect=dbus_client.connect):
        self._reactor = reactor
        self._record_for = record_for
        self._interfaces = tuple(interfaces)
        self._protocol = PROTO_UNSPEC if ipv6 else PROTO_INET
        self._bus_address = bus_address
        self._connect_bus = connect
        self._entries: dict[str, _Entry] = {}
        self._lock = defer.DeferredLock()
        self._conn = None
        self._epoch = 0
        self._running = False
        """avahi-daemon is on the bus and its server RUNNING: groups may be published."""
        self._host = ""
        self._state = AnnouncerState.STARTING
        self._detail = ""
        self._retry = None
        self._stopping = False
        self._said: set[str] = set()

    # ------------------------------------------------------------------ the Announcer interface

    def start(self) -> defer.Deferred:
        """Connect to the system bus and find avahi; fires once that is known either way."""
        return defer.ensureDeferred(self._start())

    def announce(self, scanner: AnnouncedScanner) -> None:
        entry = self._entries.get(scanner.uuid)
        if entry is not None and entry.scanner == scanner:
            return
        if entry is None:
            entry = self._entries[scanner.uuid] = _Entry(scanner)
        else:
            if entry.scanner.name != scanner.name:
                entry.name, entry.renames = None, 0
            entry.scanner = scanner
        if self._running:
            self._serialised(self._publish, scanner.uuid)

    def withdraw(self, scanner: AnnouncedScanner) -> None:
        entry = self._entries.pop(scanner.uuid, None)
        if entry is not None and entry.group is not None and self._conn is not None:
            log.info("eSCL: withdrawing {name!r} from mDNS", name=entry.name)
            self._serialised(self._free, entry)
        if self._running:
            self._update_state()

    def stop(self) -> defer.Deferred:
        self._stopping = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        return self._lock.run(lambda: defer.ensureDeferred(self._stop()))

    def status(self) -> AnnouncerStatus:
        names = {uuid: e.name for uuid, e in self._entries.items() if e.established and e.name}
        return AnnouncerStatus(PROTOCOL, self._state, self._detail, names)

    # ------------------------------------------------------------------ bus and daemon

    async def _start(self) -> None:
        conn = None
        try:
            conn = await self._connect_bus(self._reactor, self._bus_address)
            if self._stopping:
                conn.disconnect()
                return
            # Set before the signals are asked for: one may arrive (and call avahi) before getNameOwner answers.
            self._conn = conn
            await conn.addMatch(self._on_owner_changed, mtype="signal", interface=DBUS, member="NameOwnerChanged",
                                path=DBUS_PATH, arg=[(0, AVAHI)])
            await conn.addMatch(self._on_server_state, mtype="signal", interface=SERVER, member="StateChanged",
                                path=SERVER_PATH)
            await conn.addMatch(self._on_group_state, mtype="signal", interface=ENTRY_GROUP, member="StateChanged")
        except Exception as e:  # no bus at all: ConnectError, a missing socket, a refused authentication
            if conn is not None:
                self._conn = None
                conn.disconnect()
            self._unavailable(f"eSCL: no D-Bus system bus ({e.__class__.__name__}: {e}), so the eSCL scanners are not "
                              "announced by mDNS (WSD is not affected); is dbus running?")
            if not self._stopping:
                self._retry = self._reactor.callLater(BUS_RETRY, self.start)
            return
        conn.notifyOnDisconnect(self._bus_lost)
        try:
            await conn.getNameOwner(AVAHI)
        except RemoteError:
            self._unavailable(NOT_RUNNING)
            return
        await self._serialised(self._daemon_appeared)

    def _bus_lost(self, _conn, _reason) -> None:
        self._conn = None
        self._gone()
        if not self._stopping:
            self._unavailable("eSCL: lost the D-Bus system bus; the eSCL scanners are announced again when it is back")
            self._retry = self._reactor.callLater(BUS_RETRY, self.start)

    def _on_owner_changed(self, message) -> None:
        name, _old, new = message.body
        if name != AVAHI or self._stopping:
            return
        if not new:
            self._gone()
            self._unavailable("eSCL: avahi-daemon stopped; the eSCL scanners are announced again when it is back")
        else:
            log.info("eSCL: avahi-daemon is running: announcing {count} scanner(s)", count=len(self._entries))
            self._serialised(self._daemon_appeared)

    def _gone(self) -> None:
        """avahi-daemon (or the bus) went away, and every group with it."""
        self._epoch += 1
        self._running = False
        for entry in self._entries.values():
            entry.group, entry.established = None, False

    async def _daemon_appeared(self, epoch: int) -> None:
        if epoch != self._epoch:
            return
        state = await self._call(SERVER_PATH, SERVER, "GetState")
        if ServerState(state) is ServerState.RUNNING:
            await self._server_running(epoch)
        else:
            self._set_state(AnnouncerState.STARTING, f"eSCL: avahi-daemon is starting (state {ServerState(state).name})")

    async def _server_running(self, epoch: int) -> None:
        if epoch != self._epoch or self._running:
            return
        self._host = await self._call(SERVER_PATH, SERVER, "GetHostNameFqdn")
        self._running = True
        self._update_state()
        for uuid in list(self._entries):
            await self._publish(uuid, epoch)

    def _on_server_state(self, message) -> None:
        state = ServerState(message.body[0])
        if self._stopping or self._conn is None:
            return
        if state is ServerState.RUNNING and not self._running:
            self._serialised(self._server_running)
        elif state in (ServerState.COLLISION, ServerState.REGISTERING) and self._running:
            # The host name is changing: avahi's example withdraws its services until the server runs again.
            self._running = False
            self._set_state(AnnouncerState.STARTING, f"eSCL: avahi-daemon is choosing a host name ({state.name})")
            self._serialised(self._reset_all)
        elif state is ServerState.FAILURE:
            self._unavailable(f"eSCL: avahi-daemon failed: {message.body[1]}")

    async def _reset_all(self, epoch: int) -> None:
        for entry in list(self._entries.values()):
            if epoch != self._epoch:
                return
            entry.established = False
            if entry.group is not None:
                await self._call(entry.group, ENTRY_GROUP, "Reset")

    # ------------------------------------------------------------------ one scanner's group

    async def _publish(self, uuid: str, epoch: int) -> None:
        entry = self._entries.get(uuid)
        if entry is None or not self._running or epoch != self._epoch:
            return
        record = self._record_for(entry.scanner, self._host)
        if entry.group is None:
            entry.group = await self._call(SERVER_PATH, SERVER, "EntryGroupNew")
        else:
            await self._call(entry.group, ENTRY_GROUP, "Reset")
        entry.established = False
        interfaces = await self._interface_indexes()
        if not interfaces:
            return
        name = entry.name or record.name
        while True:
            try:
                for index in interfaces:
                    await self._call(entry.group, ENTRY_GROUP, "AddService", ADD_SERVICE_SIGNATURE,
                                     index, self._protocol, 0, name, record.type, "", "", record.port,
                                     [bytearray(t) for t in record.txt_bytes()])
                break
            except RemoteError as e:
                if e.errName != COLLISION_ERROR or epoch != self._epoch:
                    raise
                name = await self._rename(entry, name, "another service on this machine")
                if name is None:
                    return
                await self._call(entry.group, ENTRY_GROUP, "Reset")
        entry.name = name
        await self._call(entry.group, ENTRY_GROUP, "Commit")

    async def _rename(self, entry: _Entry, name: str, holder: str) -> str | None:
        entry.renames += 1
        if entry.renames > MAX_RENAMES:
            log.error("eSCL: gave up announcing {name!r} after {n} name collisions", name=name, n=MAX_RENAMES)
            return None
        new = await self._call(SERVER_PATH, SERVER, "GetAlternativeServiceName", "s", name)
        log.warn("eSCL: the mDNS name {name!r} is taken by {holder}; announcing the scanner as {new!r}",
                 name=name, holder=holder, new=new)
        entry.name = new
        return new

    async def _interface_indexes(self) -> list[int]:
        if not self._interfaces:
            return [IF_UNSPEC]
        found = []
        for ifname in self._interfaces:
            try:
                found.append(await self._call(SERVER_PATH, SERVER, "GetNetworkInterfaceIndexByName", "s", ifname))
            except RemoteError:
                self._say_once(f"eSCL: avahi-daemon does not know the interface {ifname!r}; not announcing there")
        if not found:
            self._say_once("eSCL: none of the configured interfaces is known to avahi-daemon; nothing is announced")
        return found

    def _on_group_state(self, message) -> None:
        entry = next((e for e in self._entries.values() if e.group == message.path), None)
        if entry is None or self._stopping:
            return
        state, error = GroupState(message.body[0]), message.body[1]
        if state is GroupState.ESTABLISHED:
            entry.established, entry.renames = True, 0
            log.info("eSCL: announced {name!r} by mDNS ({type})", name=entry.name, type=SERVICE_TYPE)
            self._update_state()
        elif state is GroupState.COLLISION:
            entry.established = False
            self._serialised(self._collided, entry.scanner.uuid, entry.group)
        elif state is GroupState.FAILURE:
            entry.established = False
            log.error("eSCL: avahi-daemon could not announce {name!r}: {error}", name=entry.name, error=error)

    async def _collided(self, uuid: str, group: str, epoch: int) -> None:
        entry = self._entries.get(uuid)
        if entry is None or entry.group != group or epoch != self._epoch:
            return
        if await self._rename(entry, entry.name or entry.scanner.name, "a device on the network") is not None:
            await self._publish(uuid, epoch)

    async def _free(self, entry: _Entry, epoch: int) -> None:
        if epoch == self._epoch and entry.group is not None:
            await self._call(entry.group, ENTRY_GROUP, "Free")
            entry.group = None

    async def _stop(self) -> None:
        if self._conn is not None:
            for entry in self._entries.values():
                if entry.group is not None:
                    try:
                        await self._call(entry.group, ENTRY_GROUP, "Free")
                    except Exception as e:  # stopping anyway: avahi frees a vanished client's groups itself
                        log.debug("eSCL: freeing an entry group failed: {e}", e=e)
                    entry.group, entry.established = None, False
        self._running = False
        self._epoch += 1
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.cancelNotifyOnDisconnect(self._bus_lost)
            conn.disconnect()
        self._set_state(AnnouncerState.STOPPED, "")

    # ------------------------------------------------------------------ helpers

    def _call(self, path: str, interface: str, method: str, signature: str | None = None, *body):
        if self._conn is None:
            return defer.fail(ConnectionError("not connected to the system bus"))
        return self._conn.callRemote(path, method, interface=interface, destination=AVAHI, signature=signature,
                                     body=list(body) if body else None, timeout=CALL_TIMEOUT)

    def _serialised(self, step, *args) -> defer.Deferred:
        """Run ``step(*args, epoch)`` under the lock; a failure is logged, never raised."""
        epoch = self._epoch
        d = self._lock.run(lambda: defer.ensureDeferred(step(*args, epoch)))
        d.addErrback(self._failed, step.__name__)
        return d

    def _failed(self, failure, step: str) -> None:
        if not (self._running and self._conn is not None):
            log.debug("eSCL: {step} ended with avahi gone: {e}", step=step, e=failure.value)
        elif failure.check(RemoteError):
            e = failure.value
            log.error("eSCL: avahi-daemon refused {step}: {name}: {message}", step=step.strip("_"),
                      name=e.errName, message=getattr(e, "message", ""))
        else:
            log.failure("eSCL: announcing through avahi-daemon failed ({step})", failure, step=step)

    def _update_state(self) -> None:
        if self._running:
            waiting = [e.name or e.scanner.name for e in self._entries.values() if not e.established]
            detail = f"announcing {len(self._entries) - len(waiting)} of {len(self._entries)} scanner(s)"
            self._set_state(AnnouncerState.ANNOUNCING, detail + (f" (waiting: {', '.join(waiting)})" if waiting else ""))

    def _set_state(self, state: AnnouncerState, detail: str) -> None:
        self._state, self._detail = state, detail

    def _unavailable(self, detail: str) -> None:
        """Say why nothing is announced: once, not again while it stays so."""
        if (self._state, self._detail) != (AnnouncerState.UNAVAILABLE, detail):
            log.warn("{detail}", detail=detail)
            self._set_state(AnnouncerState.UNAVAILABLE, detail)

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            log.warn("{text}", text=text)
