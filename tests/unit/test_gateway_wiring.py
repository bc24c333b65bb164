"""app.py in-process: scanners added and removed while the gateway runs, on the fake device."""

from pathlib import Path

import pytest

from gateway.app import Gateway
from dataclasses import replace

from gateway.config import ScannerOverride, Settings
from gateway.model import JobState, JobStateReason
from gateway.scanner.inventory import ServedDevice
from tests.support.fake_sane import INFO, FakeLibrary
from tests.unit.test_scanner_core import Received, result, ticket


@pytest.fixture
def gateway(reactor, device, tmp_path: Path):
    gw = Gateway(Settings(state_dir=tmp_path, discovery=False), reactor, FakeLibrary(device))
    yield gw
    for uuid in list(gw.served):
        result(reactor, gw.remove_scanner(uuid))


def add(reactor, gateway):
    return result(reactor, gateway.add_scanner(ServedDevice(INFO, "uuid-1", "sane:fake:0")))


def test_an_added_scanner_is_served_by_every_part(reactor, gateway):
    entry = add(reactor, gateway)
    paths = gateway.root.devices["uuid-1"]
    assert paths.wsd is entry.wsd.resource and paths.escl is entry.escl.resource
    assert [p.name for p in gateway.panels()] == [entry.scanner.name]
    assert gateway.find_scanner("fake:0") is entry


def test_a_scanner_removed_mid_job_ends_its_job_and_is_no_longer_served(reactor, gateway, device):
    entry = add(reactor, gateway)
    job = result(reactor, entry.scanner.create_job(ticket()))
    device.hold.clear()
    stream = result(reactor, entry.scanner.next_document(job.id, job.token))
    got = Received(stream)
    assert device.reading.wait(5)
    removed = gateway.remove_scanner("uuid-1", "the scanner was unplugged")
    view = entry.scanner.job(job.id)
    assert (view.state, view.reasons) == (JobState.ABORTED, (JobStateReason.SCANNER_REMOVED,))
    device.hold.set()
    reactor.pump(lambda: removed.called and got.ended)
    assert got.error is not None and device.closed
    assert "uuid-1" not in gateway.root.devices and gateway.served == {} and gateway.panels() == []


def test_removing_a_scanner_that_is_not_served_does_nothing(reactor, gateway):
    assert result(reactor, gateway.remove_scanner("no-such-uuid")) is None


def test_a_scanner_whose_section_says_escl_no_is_served_over_wsd_only(reactor, device, tmp_path):
    settings = Settings(state_dir=tmp_path, discovery=False, scanners=(ScannerOverride(INFO.name, escl=False),))
    gw = Gateway(settings, reactor, FakeLibrary(device))
    entry = add(reactor, gw)
    try:
        assert entry.escl is None and gw.root.devices["uuid-1"] is entry.wsd.resource
        assert gw._first_escl() is None
    finally:
        result(reactor, gw.remove_scanner("uuid-1"))


class RecordingAnnouncer:
    """Stands in for avahi (the D-Bus boundary); tests/netns/test_escl_on_the_lan.py has the real one."""

    def __init__(self):
        self.said: list[tuple[str, str]] = []

    def announce(self, scanner):
        self.said.append(("announce", scanner.name))

    def withdraw(self, scanner):
        self.said.append(("withdraw", scanner.name))


def test_the_announcer_hears_of_each_scanner_added_renamed_and_removed(reactor, gateway):
    gateway.announcer = announcer = RecordingAnnouncer()
    entry = add(reactor, gateway)
    first = entry.scanner.name
    gateway.reload(replace(gateway.settings, friendly_name="Renamed {model}"))
    renamed = entry.scanner.name
    result(reactor, gateway.remove_scanner("uuid-1"))
    assert renamed != first
    assert announcer.said == [("announce", first), ("announce", renamed), ("withdraw", renamed)]
