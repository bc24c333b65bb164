"""The scanner core in-process: a fake device at the python-sane boundary, the real session, encoder and
pipe, and a clock the test drives. The same behaviours run against SANE's test backend in tests/service."""

import io

import pytest
from PIL import Image

from gateway.frames_to_files import format_table, open_document
from gateway.model import (
    DocumentParameters, ErrorKind, InputSource, JobState, JobStateReason, Requested, ScannerState,
    ScannerStateReason, ScanTicket, ServiceError,
)
from gateway.pipe import PipeClosed
from gateway.scanner.device import Scanner
from gateway.scanner.inventory import ServedDevice
from gateway.scanner.jobs import RETRIEVE_TIMEOUT
from gateway.scanner.saneapi import Status
from tests.support.fake_sane import INFO, FakeDevice, FakeLibrary


class Listener:
    def __init__(self):
        self.jobs, self.statuses, self.descriptions = [], [], 0

    def job_changed(self, job):
        self.jobs.append(job)

    def status_changed(self, old, new):
        self.statuses.append(new)

    def description_changed(self):
        self.descriptions += 1


class Received:
    """The reading side of an image: what a front end attaches to the pipe."""

    def __init__(self, stream):
        self.data, self.ended, self.error = bytearray(), False, None
        stream.pipe.attach(self.data.extend, self._done)

    def _done(self, error):
        self.ended, self.error = True, error


def make(reactor, device):
    scanner = Scanner(reactor, FakeLibrary(device), ServedDevice(INFO, "uuid-1", "sane:fake:0"), name="Fake",
                      formats=format_table(), open_document=open_document)
    d = scanner.load()
    reactor.pump(lambda: d.called)
    return scanner


@pytest.fixture
def device():
    return FakeDevice(sheets=3)


@pytest.fixture
def scanner(reactor, device):
    s = make(reactor, device)
    yield s
    d = s.stop()
    reactor.pump(lambda: d.called)


def ticket(fmt="png", source="Platen", images=None, color="Grayscale8"):
    from gateway.model import RequestedSide, Size
    return ScanTicket(parameters=DocumentParameters(
        format=Requested(fmt), input_source=Requested(source),
        images_to_transfer=Requested(images) if images is not None else None,
        front=RequestedSide(color=Requested(color), resolution=Requested(Size(75, 75)))))


def result(reactor, d):
    reactor.pump(lambda: d.called)
    outcome = []
    d.addBoth(outcome.append)
    value = outcome[0]
    if hasattr(value, "raiseException"):
        value.raiseException()
    return value


def create(reactor, scanner, t=None, owner=None):
    return result(reactor, scanner.create_job(t or ticket(), owner=owner))


def retrieve_whole(reactor, scanner, job):
    stream = result(reactor, scanner.next_document(job.id, job.token))
    got = Received(stream)
    reactor.pump(lambda: got.ended)
    assert got.error is None
    return stream, bytes(got.data)


def test_a_platen_page_streams_and_its_job_completes(reactor, scanner):
    job = create(reactor, scanner)
    stream, data = retrieve_whole(reactor, scanner, job)
    assert stream.content_type == "image/png" and stream.document == "Image001"
    assert Image.open(io.BytesIO(data)).size == (job.image_info.front.pixels_per_line, job.image_info.front.lines)
    reactor.pump(lambda: scanner.job(job.id).state.ended)
    view = scanner.job(job.id)
    assert (view.state, view.reasons, view.images_done) == (
        JobState.COMPLETED, (JobStateReason.COMPLETED_SUCCESSFULLY,), 1)
    assert view.documents == ("Image001",) and not view.more_images


def test_a_cancel_mid_transfer_ends_the_job_canceled_and_frees_the_scanner(reactor, scanner, device):
    job = create(reactor, scanner)
    device.hold.clear()
    stream = result(reactor, scanner.next_document(job.id, job.token))
    got = Received(stream)
    assert device.reading.wait(5)
    scanner.cancel(job.id)
    assert scanner.job(job.id).state is JobState.TERMINATING
    reactor.pump(lambda: got.ended)
    assert isinstance(got.error, PipeClosed)  # the response ends at once, the scanner still reading
    device.hold.set()
    reactor.pump(lambda: scanner.job(job.id).state.ended)
    assert scanner.job(job.id).state is JobState.CANCELED
    reactor.pump(lambda: device.closed)
    assert create(reactor, scanner).state is JobState.PENDING


def test_a_feeder_job_ends_when_the_feeder_empties_after_its_pages(reactor, scanner):
    job = create(reactor, scanner, ticket(source="ADF", images=0))
    for n in range(3):
        stream, _data = retrieve_whole(reactor, scanner, job)
        assert stream.document == f"Image{n + 1:03d}"
    with pytest.raises(ServiceError) as e:
        result(reactor, scanner.next_document(job.id, job.token))
    assert e.value.kind is ErrorKind.NO_IMAGES
    view = scanner.job(job.id)
    assert (view.state, view.images_done, view.feeder_empty) == (JobState.COMPLETED, 3, True)


def test_a_multi_page_file_takes_every_page_the_feeder_holds(reactor, scanner):
    job = create(reactor, scanner, ticket(fmt="pdf-a", source="ADF", images=0))
    stream, data = retrieve_whole(reactor, scanner, job)
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page ") == 3
    reactor.pump(lambda: scanner.job(job.id).state.ended)
    view = scanner.job(job.id)
    assert (view.state, view.images_done, view.feeder_empty) == (JobState.COMPLETED, 3, True)


def test_a_client_that_goes_away_mid_image_aborts_the_job(reactor, scanner, device):
    job = create(reactor, scanner)
    device.hold.clear()
    stream = result(reactor, scanner.next_document(job.id, job.token))
    assert device.reading.wait(5)
    stream.pipe.stopProducing()
    device.hold.set()
    reactor.pump(lambda: scanner.job(job.id).state.ended)
    view = scanner.job(job.id)
    assert (view.state, view.reasons) == (JobState.ABORTED, (JobStateReason.COMPLETED_WITH_ERRORS,))


def test_a_job_not_retrieved_in_time_times_out_and_closes_the_device(reactor, scanner, device):
    job = create(reactor, scanner)
    assert not device.closed
    reactor.advance(RETRIEVE_TIMEOUT + 1)
    view = scanner.job(job.id)
    assert (view.state, view.reasons) == (JobState.ABORTED, (JobStateReason.TIMED_OUT,))
    reactor.pump(lambda: device.closed)


def test_one_job_at_a_time_whichever_front_end_asks(reactor, scanner):
    first = scanner.create_job(ticket(), owner="wsd client")
    with pytest.raises(ServiceError) as e:
        result(reactor, scanner.create_job(ticket(), owner="escl client"))
    assert e.value.kind is ErrorKind.BUSY
    assert result(reactor, first).state is JobState.PENDING
    with pytest.raises(ServiceError) as e:
        result(reactor, scanner.create_job(ticket(), owner="escl client"))
    assert e.value.kind is ErrorKind.BUSY


def test_only_the_owner_may_cancel_its_job(reactor, scanner):
    job = create(reactor, scanner, owner="192.168.1.40")
    with pytest.raises(ServiceError) as e:
        scanner.cancel(job.id, owner="192.168.1.41")
    assert e.value.kind is ErrorKind.NOT_FOUND
    scanner.cancel(job.id, owner="192.168.1.40")
    assert scanner.job(job.id).state is JobState.CANCELED


def test_every_listener_hears_every_job_change(reactor, scanner):
    wsd, escl = Listener(), Listener()
    scanner.listen(wsd)
    stop = scanner.listen(escl)
    job = create(reactor, scanner)
    stop()
    retrieve_whole(reactor, scanner, job)
    reactor.pump(lambda: scanner.job(job.id).state.ended)
    assert [v.state for v in wsd.jobs] == [JobState.PENDING, JobState.PROCESSING, JobState.COMPLETED]
    assert [v.state for v in escl.jobs] == [JobState.PENDING]
    assert [s.state for s in wsd.statuses] == [ScannerState.PROCESSING, ScannerState.IDLE]


def test_a_jam_at_the_start_is_a_device_error_and_stops_the_scanner(reactor):
    scanner = make(reactor, FakeDevice(start_error=Status.JAMMED))
    job = create(reactor, scanner)
    with pytest.raises(ServiceError) as e:
        result(reactor, scanner.next_document(job.id, job.token))
    assert e.value.kind is ErrorKind.DEVICE
    view = scanner.job(job.id)
    assert (view.state, view.reasons) == (JobState.ABORTED, (JobStateReason.COMPLETED_WITH_ERRORS,))
    status = scanner.status()
    assert (status.state, status.reasons) == (ScannerState.STOPPED, (ScannerStateReason.MEDIA_JAM,))
    d = scanner.stop()
    reactor.pump(lambda: d.called)


def test_a_scanner_removed_mid_job_ends_it_aborted_as_removed(reactor, device):
    scanner = make(reactor, device)
    listener = Listener()
    scanner.listen(listener)
    job = create(reactor, scanner)
    device.hold.clear()
    stream = result(reactor, scanner.next_document(job.id, job.token))
    got = Received(stream)
    assert device.reading.wait(5)
    stopped = scanner.stop("the scanner was unplugged")
    assert scanner.job(job.id).reasons == (JobStateReason.SCANNER_REMOVED,)
    assert listener.jobs[-1].state is JobState.ABORTED
    reactor.pump(lambda: got.ended)
    assert got.error is not None
    device.hold.set()
    reactor.pump(lambda: stopped.called)
    assert device.closed


def test_validating_a_ticket_never_touches_the_device(reactor, scanner, device):
    starts = device.starts
    final, info = scanner.validate(ticket(fmt="jfif", source="ADF"))
    assert final.input_source.value is InputSource.ADF and final.format.value == "jfif"
    assert info.front.bytes_per_line == 0 and device.starts == starts
