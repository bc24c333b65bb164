"""The WSD scan service resource in-process: Twisted's DummyRequest against the real resource, the real
scanner core on a fake device (tests/support/fake_sane.py) and a clock the test drives."""

import io

import pytest
from twisted.internet.address import IPv4Address
from lxml import etree
from twisted.internet.defer import Deferred, succeed
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from gateway.frames_to_files import format_table, open_document
from gateway.model import JobState
from gateway.scanner.device import Scanner
from gateway.scanner.inventory import ServedDevice
from gateway.wsd import namespaces as ns
from gateway.wsd.device import WsdDevice
from gateway.wsd.metadata import MetadataVersions
from tests.support.fake_sane import INFO, FakeDevice, FakeLibrary
from tests.support.soap_client import Reply, el, envelope, job_of, ticket

PC = "192.168.1.40"


class Request(DummyRequest):
    """DummyRequest with what a POST to the scan service reads: its body, and a transport to cut."""

    def __init__(self, body: bytes, peer: str = PC):
        super().__init__([b"scan"])
        self.method = b"POST"
        self.content = io.BytesIO(body)
        self.client = IPv4Address("TCP", peer, 50000)
        self.requestHeaders.setRawHeaders(b"content-type", [b"application/soap+xml; charset=utf-8"])
        self.requestHeaders.setRawHeaders(b"host", [b"gateway:8765"])
        self.aborted = False
        self.transport = self

    def registerProducer(self, producer, streaming):
        """DummyRequest would pull from it in a loop; a push producer pushes on its own."""
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    @property
    def startedWriting(self) -> bool:
        return bool(self.written)

    def abortConnection(self) -> None:
        self.aborted = True

    def gone(self) -> None:
        """The client's connection closed: what Twisted tells notifyFinish."""
        observers, self._finishedDeferreds = self._finishedDeferreds, None
        for d in observers or ():
            d.errback(ConnectionError("connection lost"))

    def reply(self) -> Reply:
        headers = {k.decode().lower(): v[0].decode() for k, v in self.responseHeaders.getAllRawHeaders()}
        return Reply(self.responseCode or 200, headers, b"".join(self.written))


@pytest.fixture
def device():
    return FakeDevice(sheets=2)


@pytest.fixture
def posts():
    return []


@pytest.fixture
def service(reactor, device, tmp_path, posts):
    scanner = Scanner(reactor, FakeLibrary(device), ServedDevice(INFO, "uuid-1", "sane:fake:0"), name="Fake",
                      formats=format_table(), open_document=open_document)
    loaded = scanner.load()
    reactor.pump(lambda: loaded.called)
    def post(url, data, subscriber):
        posts.append((url, data))
        return Deferred()
    wsd = WsdDevice(reactor, scanner, post=post, check_target=lambda h, p, s: succeed(None),
                    versions=MetadataVersions(tmp_path))
    yield wsd
    stopped = scanner.stop()
    reactor.pump(lambda: stopped.called)


def send(reactor, wsd, operation: str, body, peer: str = PC, until_finished: bool = True) -> Request:
    request = Request(envelope(ns.scan_action(operation), body, "urn:uuid:uuid-1"), peer)
    assert wsd.resource.render(request) == NOT_DONE_YET
    if until_finished:
        reactor.pump(lambda: request.finished or request.aborted)
    return request


def test_scanner_elements_are_answered_from_the_core(reactor, service):
    r = send(reactor, service, "GetScannerElements",
             el("GetScannerElementsRequest", el("RequestedElements", el("Name", text="wscn:ScannerDescription")))).reply()
    assert r.status == 200 and r.text(".//wscn:ScannerName") == "Fake"


def test_an_action_that_is_not_offered_is_a_sender_fault(reactor, service):
    r = send(reactor, service, "NoSuchOperation", el("NoSuchOperationRequest")).reply()
    assert r.status == 400 and r.fault_subcode == "wsa:ActionNotSupported"


def test_a_job_is_created_and_its_image_streams_as_mtom(reactor, service):
    created = send(reactor, service, "CreateScanJob", el("CreateScanJobRequest", ticket(dpi=75, color="Grayscale8")))
    job_id, token = job_of(created.reply())
    body = el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text=token),
              el("DocumentDescription", el("DocumentName", text="scan001")))
    r = send(reactor, service, "RetrieveImage", body).reply()
    assert r.is_multipart and r.image.startswith(b"\x89PNG")
    assert service.scanner.job(job_id).documents == ("scan001",)


def test_a_core_error_is_the_fault_its_kind_maps_to(reactor, service):
    created = send(reactor, service, "CreateScanJob", el("CreateScanJobRequest", ticket(dpi=75)))
    job_id, _token = job_of(created.reply())
    body = el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text="a guess"))
    r = send(reactor, service, "RetrieveImage", body).reply()
    assert r.status == 400 and r.fault_subcode == "wscn:ClientErrorInvalidJobToken"


def test_another_client_cannot_cancel_the_job(reactor, service):
    created = send(reactor, service, "CreateScanJob", el("CreateScanJobRequest", ticket(dpi=75)))
    job_id, _token = job_of(created.reply())
    r = send(reactor, service, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)),
             peer="192.168.1.41").reply()
    assert r.fault_subcode == "wscn:ClientErrorJobIdNotFound"
    assert send(reactor, service, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id))).reply().status == 200
    assert service.scanner.job(job_id).state is JobState.CANCELED


def test_a_client_gone_mid_image_ends_the_job_and_writes_nothing_more(reactor, service, device):
    created = send(reactor, service, "CreateScanJob", el("CreateScanJobRequest", ticket(dpi=75)))
    job_id, token = job_of(created.reply())
    device.hold.clear()
    request = send(reactor, service, "RetrieveImage",
                   el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text=token)),
                   until_finished=False)
    reactor.pump(lambda: request.written)
    request.gone()
    written = len(request.written)
    device.hold.set()
    reactor.pump(lambda: service.scanner.job(job_id).state.ended)
    assert service.scanner.job(job_id).state is JobState.ABORTED
    assert len(request.written) == written and not request.finished


def test_a_subscriber_hears_of_the_job_it_did_not_create(reactor, service, posts):
    subscribe = etree.Element(ns.qname(ns.WSE, "Subscribe"), nsmap=ns.NSMAP)
    notify = etree.SubElement(etree.SubElement(subscribe, ns.qname(ns.WSE, "Delivery")), ns.qname(ns.WSE, "NotifyTo"))
    etree.SubElement(notify, ns.qname(ns.WSA, "Address")).text = "http://192.168.1.50/events"
    request = Request(envelope(ns.SUBSCRIBE_ACTION, subscribe, "urn:uuid:uuid-1"), "192.168.1.50")
    service.resource.render(request)
    reactor.pump(lambda: request.finished)
    assert request.reply().status == 200
    send(reactor, service, "CreateScanJob", el("CreateScanJobRequest", ticket(dpi=75)))
    [(url, data)] = posts
    assert url == "http://192.168.1.50/events" and b"JobStatusEvent" in data and b">Pending<" in data
