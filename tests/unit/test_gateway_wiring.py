"""app.py in-process: scanners added and removed while the gateway runs, on the fake device."""

from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.model import JobState, JobStateReason
from gateway.scanner.inventory import ServedDevice
from tests.support.fake_sane import INFO, FakeDevice, FakeLibrary, ThreadedClock
from tests.unit.test_scanner_core import Received, result, ticket


@pytest.fixture
def reactor():
    return ThreadedClock()


@pytest.fixture
def device():
    return FakeDevice()


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
    assert gateway.root.devices["uuid-1"] is entry.wsd.resource
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
