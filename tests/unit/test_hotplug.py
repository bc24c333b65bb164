"""Scanners that come and go while the gateway runs: held rescans, identity of look-alikes, the gateway's diff.

The SANE library is faked at its boundary (``reinitialise``); the real test
backend's re-initialisation is in tests/sane/test_reinitialise.py, the whole
path through a real gateway in tests/netns/test_hotplug_netns.py.
"""

from dataclasses import replace
from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from gateway.app import Gateway
from gateway.config import Settings
from gateway.model import JobState, JobStateReason
from gateway.osevents.usb import UsbAction, UsbChange, UsbDevice, UsbEvent
from gateway.scanner.inventory import ServedDevice, UuidStore, choose, usb_identity
from gateway.scanner.rescan import LONGEST_RETRY, RescanState, Rescanner
from gateway.scanner.saneapi import DeviceInfo, DevicesStillOpen
from tests.support.fake_sane import INFO, FakeLibrary
from tests.unit.test_scanner_core import Received, result, ticket

OTHER = DeviceInfo("fake:1", "Fake", "Scanner 1", "flatbed scanner")


class Library:
    """reinitialise() as the SANE boundary answers it: the devices there are now, or DevicesStillOpen."""

    def __init__(self, found=(INFO,)):
        self.found = list(found)
        self.still_open: list[str] = []
        self.calls = 0

    def reinitialise(self):
        self.calls += 1
        if self.still_open:
            raise DevicesStillOpen(self.still_open)
        return list(self.found)


def lines(events) -> list[str]:
    from twisted.logger import formatEvent
    return [formatEvent(e) for e in events]


class View:
    def __init__(self, ended: bool):
        self.state = JobState.COMPLETED if ended else JobState.PROCESSING


def rescanner(clock, library, busy, seen):
    def found(devices):
        seen.append(devices)
    return Rescanner(clock, library, busy, found, in_thread=defer.maybeDeferred)


# ------------------------------------------------------------ the held rescan


def test_a_rescan_runs_at_once_when_nothing_is_busy():
    clock, library, seen = Clock(), Library(), []
    r = rescanner(clock, library, lambda: [], seen)
    r.request("1-1 plugged in")
    assert seen == [[INFO]] and r.state is RescanState.IDLE


def test_a_rescan_is_held_while_a_job_runs_and_runs_when_it_ends():
    clock, library, seen, busy = Clock(), Library(), [], ["Office scanner"]
    r = rescanner(clock, library, lambda: busy, seen)
    r.request("1-1 plugged in")
    assert library.calls == 0 and r.state is RescanState.WANTED
    r.job_changed(View(ended=False))
    clock.advance(5)
    assert library.calls == 0
    busy.clear()
    r.job_changed(View(ended=True))
    clock.advance(1)
    assert seen == [[INFO]] and r.state is RescanState.IDLE


def test_the_held_rescan_is_logged_naming_the_busy_scanner(logged):
    r = rescanner(Clock(), Library(), lambda: ["Office scanner"], [])
    r.request("1-1 plugged in")
    assert any("rescan held until Office scanner's job ends" in line for line in lines(logged))


def test_a_device_still_open_makes_the_rescan_wait_and_try_again():
    clock, library, seen = Clock(), Library(), []
    library.still_open = ["test:0"]
    r = rescanner(clock, library, lambda: [], seen)
    r.request("1-1 plugged in")
    assert library.calls == 1 and r.state is RescanState.WANTED and seen == []
    library.still_open = []
    clock.advance(1)
    assert seen == [[INFO]]


def test_a_device_that_never_closes_is_tried_less_and_less_often():
    clock, library = Clock(), Library()
    library.still_open = ["stuck:0"]
    r = rescanner(clock, library, lambda: [], [])
    r.request("1-1 plugged in")
    clock.pump([LONGEST_RETRY] * 12)
    assert 5 < library.calls < 25


def test_a_change_during_a_rescan_makes_another_one_after_it():
    clock, library, seen = Clock(), Library(), []
    waiting = defer.Deferred()
    r = Rescanner(clock, library, lambda: [], lambda devices: seen.append(devices) or waiting,
                  in_thread=defer.maybeDeferred)
    r.request("1-1 plugged in")
    r.request("1-2 plugged in")
    assert library.calls == 1
    waiting.callback(None)
    assert library.calls == 2


def test_a_sane_failure_at_the_rescan_is_logged_and_the_next_change_tries_again(logged):
    clock, library = Clock(), Library()

    def broken():
        raise OSError("no backend")
    library.reinitialise = broken
    r = rescanner(clock, library, lambda: [], [])
    r.request("1-1 plugged in")
    assert r.state is RescanState.IDLE
    assert any("could not look for scanners again" in line for line in lines(logged))


# ------------------------------------------------------------ identity of look-alikes


def usb_device(sysfs: Path, port: str, bus: int, dev: int, serial: str | None = None) -> None:
    d = sysfs / port
    d.mkdir()
    values = {"busnum": bus, "devnum": dev, "idVendor": "04a9", "idProduct": "1909"}
    if serial:
        values["serial"] = serial
    for name, value in values.items():
        (d / name).write_text(f"{value}\n")


def test_look_alike_scanners_without_a_serial_are_told_apart_by_their_port(tmp_path):
    usb_device(tmp_path, "1-1.2", 1, 4)
    usb_device(tmp_path, "1-1.3", 1, 5)
    one = usb_identity("genesys:libusb:001:004", sysfs=tmp_path)
    two = usb_identity("genesys:libusb:001:005", sysfs=tmp_path)
    assert one == "usb:04a9:1909:@1-1.2" and two == "usb:04a9:1909:@1-1.3"


def test_a_scanner_without_a_serial_keeps_its_identity_when_plugged_back_into_its_port(tmp_path):
    usb_device(tmp_path, "1-1.2", 1, 4)
    before = usb_identity("genesys:libusb:001:004", sysfs=tmp_path)
    (tmp_path / "1-1.2" / "devnum").write_text("9\n")  # a re-plug gets a new device number
    assert usb_identity("genesys:libusb:001:009", sysfs=tmp_path) == before


def test_a_scanner_without_a_serial_keeps_the_uuid_it_had_before_ports_were_used(tmp_path):
    old = UuidStore(tmp_path).uuid_for("usb:04a9:1909:")
    store = UuidStore(tmp_path)
    assert store.uuid_for("usb:04a9:1909:@1-1.2") == old
    assert store.uuid_for("usb:04a9:1909:@1-1.3") != old
    assert UuidStore(tmp_path).uuid_for("usb:04a9:1909:@1-1.2") == old


# ------------------------------------------------------------ the gateway's diff after a rescan


class TwoDevices(FakeLibrary):
    """The fake device under whichever names SANE lists; a re-initialisation lists ``found``."""

    def __init__(self, device):
        super().__init__(device)
        self.found = [INFO]

    def devices(self):
        return list(self.found)

    def reinitialise(self):
        return list(self.found)


@pytest.fixture
def gateway(reactor, device, tmp_path: Path):
    library = TwoDevices(device)
    gw = Gateway(Settings(state_dir=tmp_path, discovery=False, usb_hotplug="off"), reactor, library)
    gw.rescan = Rescanner(reactor, library, gw._busy_scanners, gw._devices_now, in_thread=defer.maybeDeferred)
    yield gw
    for uuid in list(gw.served):
        result(reactor, gw.remove_scanner(uuid))


def plugged(*ports: str, left: bool = False) -> UsbChange:
    action = UsbAction.REMOVE if left else UsbAction.BIND
    return UsbChange(tuple(UsbEvent(action, UsbDevice(f"/devices/usb1/{p}", p, 1, 4, "04a9", "1909", None), True)
                           for p in ports))


def serve_what_sane_lists(reactor, gateway):
    for served in choose(gateway.library.found, gateway.store, "auto"):
        result(reactor, gateway.add_scanner(served))


def test_a_scanner_plugged_in_is_served(reactor, gateway):
    serve_what_sane_lists(reactor, gateway)
    gateway.library.found = [INFO, OTHER]
    gateway.usb_changed(plugged("1-2"))
    reactor.pump(lambda: len(gateway.served) == 2)
    assert {e.scanner.identity.device for e in gateway.served.values()} == {"fake:0", "fake:1"}


def test_look_alike_scanners_get_distinct_names(reactor, gateway):
    gateway.library.found = [INFO, OTHER]
    serve_what_sane_lists(reactor, gateway)
    names = sorted(e.scanner.name for e in gateway.served.values())
    assert names[1] == names[0] + " (2)"


def test_a_scanner_plugged_in_again_gets_its_uuid_back(reactor, gateway):
    gateway.library.found = [INFO, OTHER]
    serve_what_sane_lists(reactor, gateway)
    uuid = next(u for u, e in gateway.served.items() if e.scanner.identity.device == "fake:1")
    gateway.library.found = [INFO]
    gateway.usb_changed(plugged("1-2", left=True))
    reactor.pump(lambda: uuid not in gateway.served)
    gateway.library.found = [INFO, OTHER]
    gateway.usb_changed(plugged("1-2"))
    reactor.pump(lambda: uuid in gateway.served)


def test_another_scanners_job_holds_the_rescan_and_completes_then_the_one_that_left_is_withdrawn(reactor, gateway, device):
    gateway.library.found = [INFO, OTHER]
    serve_what_sane_lists(reactor, gateway)
    # Both names open the one fake device: the job runs on fake:0, fake:1 goes away idle first.
    entry = next(e for e in gateway.served.values() if e.scanner.identity.device == "fake:0")
    job = result(reactor, entry.scanner.create_job(ticket()))
    device.hold.clear()
    got = Received(result(reactor, entry.scanner.next_document(job.id, job.token)))
    assert device.reading.wait(5)
    gateway.library.found = [INFO]
    gateway.usb_changed(plugged("1-2", left=True))
    reactor.settle(0.3)
    assert len(gateway.served) == 2, "the rescan waits for the job on fake:0"
    device.hold.set()
    reactor.pump(lambda: got.ended, timeout=5)
    reactor.advance(1)  # the held rescan runs once the job's handle is closed
    reactor.pump(lambda: len(gateway.served) == 1, timeout=5)
    assert got.error is None and entry.scanner.job(job.id).state is JobState.COMPLETED


def test_a_scanner_pulled_out_while_its_job_runs_is_withdrawn_at_once_with_its_job_aborted(reactor, gateway, device):
    entry = result(reactor, gateway.add_scanner(ServedDevice(INFO, "uuid-1", "usb:04a9:1909:@1-1")))
    entry.usb_port = "1-1"  # what sysfs said of its libusb name
    job = result(reactor, entry.scanner.create_job(ticket()))
    device.hold.clear()
    got = Received(result(reactor, entry.scanner.next_document(job.id, job.token)))
    assert device.reading.wait(5)
    gateway.library.found = []
    gateway.usb_changed(plugged("1-1", left=True))
    view = entry.scanner.job(job.id)
    assert (view.state, view.reasons) == (JobState.ABORTED, (JobStateReason.SCANNER_REMOVED,))
    assert "uuid-1" not in gateway.served
    device.hold.set()
    reactor.pump(lambda: got.ended, timeout=5)
    assert got.error is not None


def test_usb_hotplug_off_watches_nothing(reactor, gateway):
    gateway.start_usb_hotplug()
    assert gateway.usb is None


def test_usb_hotplug_is_auto_unless_the_config_says_otherwise(tmp_path):
    from gateway.config import ConfigError, load
    assert load(Path(__file__).resolve().parents[2] / "etc" / "sane-wsd-gateway.conf").usb_hotplug == "auto"
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nusb_hotplug = Kernel\n")
    assert load(conf).usb_hotplug == "kernel"
    conf.write_text("[gateway]\nusb_hotplug = sometimes\n")
    with pytest.raises(ConfigError, match="auto, udev, kernel or off"):
        load(conf)


def test_devices_found_after_the_gateway_began_to_stop_are_not_served():
    clock, library, seen = Clock(), Library(), []
    finish = defer.Deferred()
    r = Rescanner(clock, library, lambda: [], seen.append, in_thread=lambda f: finish)
    r.request("1-1 plugged in")
    r.stop()
    finish.callback([INFO])
    assert seen == []


def test_look_alikes_plugged_back_in_the_other_order_keep_their_names(reactor, gateway):
    gateway.library.found = [INFO, OTHER]
    serve_what_sane_lists(reactor, gateway)
    names = {e.scanner.identity.device: e.scanner.name for e in gateway.served.values()}
    gateway.library.found = []
    gateway.usb_changed(plugged("1-1", "1-2", left=True))
    reactor.pump(lambda: not gateway.served)
    gateway.library.found = [OTHER]
    gateway.usb_changed(plugged("1-2"))
    reactor.pump(lambda: len(gateway.served) == 1)
    gateway.library.found = [OTHER, INFO]
    gateway.usb_changed(plugged("1-1"))
    reactor.pump(lambda: len(gateway.served) == 2)
    assert {e.scanner.identity.device: e.scanner.name for e in gateway.served.values()} == names


def test_the_usb_port_of_a_libusb_device_is_read_from_sysfs(tmp_path):
    from gateway.scanner.inventory import usb_port
    usb_device(tmp_path, "1-1.2", 1, 4)
    assert usb_port("genesys:libusb:001:004", sysfs=tmp_path) == "1-1.2"
    assert usb_port("genesys:libusb:001:005", sysfs=tmp_path) is None
    assert usb_port("test:0", sysfs=tmp_path) is None


def test_a_scanner_plugged_in_and_out_is_announced_and_withdrawn_over_mdns(reactor, gateway):
    from tests.unit.test_gateway_wiring import RecordingAnnouncer
    serve_what_sane_lists(reactor, gateway)
    gateway.announcer = announcer = RecordingAnnouncer()
    gateway.library.found = [INFO, OTHER]
    gateway.usb_changed(plugged("1-2"))
    reactor.pump(lambda: len(gateway.served) == 2)
    arrived = next(e.scanner.name for e in gateway.served.values() if e.scanner.identity.device == "fake:1")
    gateway.library.found = [INFO]
    gateway.usb_changed(plugged("1-2", left=True))
    reactor.pump(lambda: len(gateway.served) == 1)
    assert announcer.said == [("announce", arrived), ("withdraw", arrived)]


def test_the_first_escl_scanner_to_arrive_by_hotplug_starts_the_announcer(reactor, gateway, monkeypatch):
    started = []
    monkeypatch.setattr(gateway, "start_announcer", lambda: started.append(True) or defer.succeed(None))
    gateway._running = True
    gateway.settings = replace(gateway.settings, discovery=True)
    gateway.usb_changed(plugged("1-1"))
    reactor.pump(lambda: len(gateway.served) == 1)
    assert started == [True]
