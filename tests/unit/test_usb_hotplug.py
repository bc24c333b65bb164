"""The USB watcher's decisions, with a fake uevent socket (the OS boundary) and a fake reactor.

The real socket, with a udev-format message sent in a network namespace, is
tests/netns/test_os_events_netns.py.
"""

from __future__ import annotations

import errno
from collections import deque

import pytest
from twisted.internet import error
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from gateway.osevents.usb import (
    SETTLE, HotplugUnavailable, Source, UsbAction, UsbWatcher, choose_source, read_event,
)
from tests.support.uevents import usb_device_properties


class FakeSource:
    """A uevent socket: what the test queues is what ``receive`` returns, then None (EAGAIN)."""

    def __init__(self, kind: Source, present=()):
        self.kind = kind
        self.queue: deque = deque()
        self._present = list(present)
        self.closed = False

    def fileno(self) -> int:
        return 99

    def receive(self):
        if not self.queue:
            return None
        item = self.queue.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    def present(self):
        return iter(self._present)

    def close(self) -> None:
        self.closed = True


def kernel(action, port="1-1.2", **kw):
    """A kernel-source event: no ID_* and no libsane mark, PRODUCT only."""
    props = usb_device_properties(action, port, **kw)
    return {k: v for k, v in props.items() if not k.startswith("ID_") and k != "libsane_matched"}


@pytest.fixture
def make():
    def make(kind=Source.UDEV, present=()):
        reactor, changes = MemoryReactorClock(), []
        source = FakeSource(kind, present)
        watcher = UsbWatcher(changes.append, reactor=reactor, source=kind, open_source=lambda k: source)
        watcher.start()
        return reactor, source, watcher, changes
    return make


def feed(reactor, source, watcher, *events):
    source.queue.extend(events)
    watcher.doRead()


def test_udev_is_chosen_where_udevd_runs_and_the_kernel_elsewhere(tmp_path):
    control = tmp_path / "control"
    assert choose_source(control) is Source.KERNEL
    control.touch()
    assert choose_source(control) is Source.UDEV


def test_start_registers_the_socket_with_the_reactor_and_stop_removes_and_closes_it(make):
    reactor, source, watcher, _ = make()
    assert watcher in reactor.getReaders()
    watcher.stop()
    assert watcher not in reactor.getReaders() and source.closed


def test_a_second_start_changes_nothing(make):
    reactor, source, watcher, _ = make()
    assert watcher.start() is Source.UDEV and list(reactor.getReaders()) == [watcher]


def test_a_scanner_plugged_in_is_reported_once_after_its_add_and_bind_have_settled(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("add", serial="A1"))
    reactor.advance(0.05)
    feed(reactor, source, watcher, usb_device_properties("bind", serial="A1"))
    reactor.advance(SETTLE - 0.01)
    assert changes == []
    reactor.advance(0.02)
    assert len(changes) == 1
    assert [e.action for e in changes[0].events] == [UsbAction.ADD, UsbAction.BIND]
    (device,) = changes[0].arrived
    assert (device.port_path, device.vendor_id, device.product_id, device.serial, device.busnum, device.devnum) \
        == ("1-1.2", "04a9", "1909", "A1", 1, 4)


def test_a_scanner_pulled_out_is_reported_as_left(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("add"))
    reactor.advance(SETTLE)
    feed(reactor, source, watcher, usb_device_properties("remove", scanner=False))
    reactor.advance(SETTLE)
    assert [d.port_path for d in changes[1].left] == ["1-1.2"]
    assert changes[1].events[0].scanner is True  # known from its arrival: udev may drop the mark on remove


def test_a_device_libsanes_rules_do_not_mark_is_ignored_in_and_out(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("add", "1-3", scanner=False),
         usb_device_properties("bind", "1-3", scanner=False))
    reactor.advance(SETTLE)
    feed(reactor, source, watcher, usb_device_properties("remove", "1-3", scanner=False))
    reactor.advance(SETTLE)
    assert changes == []


def test_a_non_scanner_present_at_start_is_ignored_when_pulled_out(make):
    present = [usb_device_properties("add", "1-3", scanner=False), usb_device_properties("add", "1-4")]
    reactor, source, watcher, changes = make(present=present)
    feed(reactor, source, watcher, usb_device_properties("remove", "1-3", scanner=False))
    reactor.advance(SETTLE)
    assert changes == []
    feed(reactor, source, watcher, usb_device_properties("remove", "1-4", scanner=False))
    reactor.advance(SETTLE)
    assert [d.port_path for d in changes[0].left] == ["1-4"]


def test_the_removal_of_a_device_never_seen_arrive_counts(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("remove", "2-1", scanner=False))
    reactor.advance(SETTLE)
    assert [d.port_path for d in changes[0].left] == ["2-1"]


def test_a_bind_without_the_mark_does_not_forget_that_the_device_is_a_scanner(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("add"), usb_device_properties("bind", scanner=False))
    reactor.advance(SETTLE)
    feed(reactor, source, watcher, usb_device_properties("remove", scanner=False))
    reactor.advance(SETTLE)
    assert [len(c.arrived) for c in changes] == [1, 0] and len(changes[1].left) == 1


def test_interfaces_and_other_actions_are_not_device_events():
    interface = dict(usb_device_properties("bind"), DEVTYPE="usb_interface",
                     DEVPATH="/devices/pci0000:00/0000:00:14.0/usb1/1-1.2/1-1.2:1.0")
    assert read_event(interface, marked=True) is None
    assert read_event(usb_device_properties("change"), marked=True) is None
    assert read_event(usb_device_properties("unbind"), marked=True) is None


def test_without_udev_every_usb_device_counts_and_its_ids_come_from_product(make):
    reactor, source, watcher, changes = make(kind=Source.KERNEL)
    feed(reactor, source, watcher, kernel("add", "3-2", vendor="4b8", product="142"))
    reactor.advance(SETTLE)
    (event,) = changes[0].events
    assert event.scanner is None
    assert (event.device.vendor_id, event.device.product_id, event.device.serial) == ("04b8", "0142", None)


def test_a_plug_and_a_pull_in_one_burst_leave_nothing_arrived(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, usb_device_properties("add"), usb_device_properties("remove"))
    reactor.advance(SETTLE)
    assert changes[0].arrived == () and len(changes[0].left) == 1


def test_a_read_takes_a_bounded_number_of_events_and_the_next_read_the_rest(make):
    reactor, source, watcher, changes = make()
    source.queue.extend(usb_device_properties("add", f"1-{i}") for i in range(100))
    watcher.doRead()
    assert len(source.queue) > 0
    watcher.doRead()
    reactor.advance(SETTLE)
    assert len(changes[0].arrived) == 100


def test_lost_events_are_reported_so_that_everything_is_looked_at_again(make):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, OSError(errno.ENOBUFS, "No buffer space available"))
    reactor.advance(SETTLE)
    assert changes[0].lost_events and changes[0].events == ()
    feed(reactor, source, watcher, usb_device_properties("add"))
    reactor.advance(SETTLE)
    assert not changes[1].lost_events


def test_a_broken_socket_stops_the_watcher_and_leaves_the_reactor_running(make, logged):
    reactor, source, watcher, changes = make()
    feed(reactor, source, watcher, OSError(errno.EBADF, "Bad file descriptor"))
    assert watcher not in reactor.getReaders() and source.closed and watcher.watching is None
    assert [e["log_level"] for e in logged if "stopped" in e["log_format"]] == [LogLevel.error]


def test_no_udev_library_is_a_clear_error_not_a_traceback(make):
    def unavailable(kind):
        raise HotplugUnavailable("python3-pyudev is not installed")
    watcher = UsbWatcher(lambda change: None, reactor=MemoryReactorClock(), source=Source.UDEV,
                         open_source=unavailable)
    with pytest.raises(HotplugUnavailable, match="python3-pyudev"):
        watcher.start()


def test_the_reactor_letting_go_at_shutdown_stops_it_without_an_error(make, logged):
    reactor, source, watcher, changes = make()
    watcher.connectionLost(Failure(error.ConnectionLost()))
    assert watcher.watching is None and source.closed
    assert [e for e in logged if e["log_level"] >= LogLevel.warn] == []
