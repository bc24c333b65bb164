"""image_transfer = chunked | length: how RetrieveImage sends the image.

chunked (the default) streams the image while the scanner scans; length
spools the encoded image to a temporary file and sends the whole response
with a Content-Length, for a Windows build that refuses chunked image
responses.
"""

import http.client
import io
import time
from urllib.parse import urlsplit

import pytest
from lxml import etree
from PIL import Image

from tests.support.gateway_process import GatewayProcess
from tests.support.sinks import EventSink, subscribe
from tests.support.soap_client import Reply, call, create_job, el, envelope, job_of, open_retrieve, retrieve, ticket
from gateway.wsd import namespaces as ns

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"
SLOW = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"


@pytest.fixture(scope="module")
def length_gateway(tmp_path_factory):
    with GatewayProcess(tmp_path_factory.mktemp("length"), config="image_transfer = length\n") as gw:
        yield gw


def scan(gw, **kw):
    job_id, token = job_of(create_job(gw.scan_url, ticket(**kw)))
    return retrieve(gw.scan_url, job_id, token)


def test_by_default_the_image_is_streamed_chunked_while_it_is_scanned(gateway):
    r = scan(gateway, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 2000, 2000))
    assert r.status == 200
    assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
    assert Image.open(io.BytesIO(r.image)).size == (150, 150)


def test_with_length_the_response_has_a_content_length_and_no_chunks(length_gateway):
    r = scan(length_gateway, fmt="png", color="RGB24", dpi=150, region=(500, 500, 1250, 750))
    assert r.status == 200
    assert "transfer-encoding" not in r.headers
    assert int(r.headers["content-length"]) == len(r.body)
    assert r.headers["content-type"].startswith("multipart/related")
    assert r.find(".//wscn:ScanData/xop:Include") is not None
    assert Image.open(io.BytesIO(r.image)).size == (188, 113)


def test_with_length_the_body_still_opens_with_a_crlf_before_the_first_boundary(length_gateway):
    r = scan(length_gateway, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500))
    boundary = r.headers["content-type"].split('boundary="')[1].split('"')[0]
    assert r.body.startswith(b"\r\n--" + boundary.encode() + b"\r\n")


def test_with_length_every_sheet_of_the_feeder_arrives_then_no_images_available(length_gateway):
    job_id, token = job_of(create_job(length_gateway.scan_url, ticket(
        fmt="jfif", source="ADF", color="Grayscale8", dpi=75, region=(0, 0, 1000, 1000), images=0)))
    sizes = []
    while True:
        r = retrieve(length_gateway.scan_url, job_id, token)
        if r.status != 200:
            break
        assert int(r.headers["content-length"]) == len(r.body)
        sizes.append(Image.open(io.BytesIO(r.image)).size)
    assert sizes == [(75, 75)] * 10
    assert r.fault_subcode == "wscn:ClientErrorNoImagesAvailable"


def test_with_length_a_multi_page_document_arrives_whole(length_gateway):
    r = scan(length_gateway, fmt="tiff-multi-g4", source="ADF", color="BlackAndWhite1", dpi=75,
             region=(0, 0, 1000, 1000), images=3)
    assert int(r.headers["content-length"]) == len(r.body)
    assert Image.open(io.BytesIO(r.image)).n_frames == 3


def processing_reasons(gw, **kw):
    """The JobStateReason of every Processing JobStatusEvent of one scan."""
    with EventSink() as sink:
        subscribe(gw.scan_url, sink.url, ("JobStatusEvent", "JobEndStateEvent"))
        assert scan(gw, **kw).status == 200
        assert sink.wait_for(lambda ev: any(e["action"].endswith("JobEndStateEvent") for e in ev))
        bodies = [etree.fromstring(e["body"]) for e in sink.events if e["action"].endswith("JobStatusEvent")]
    return [b.findtext(f"{W}JobStatus/{W}JobStateReasons/{W}JobStateReason") for b in bodies
            if b.findtext(f"{W}JobStatus/{W}JobState") == "Processing"]


def test_a_streamed_image_is_scanning_and_transfering(gateway):
    assert processing_reasons(gateway, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500)) == [
        "JobScanningAndTransfering"]


def test_a_spooled_image_is_scanning_only(length_gateway):
    assert processing_reasons(length_gateway, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500)) == [
        "JobScanning"]


def test_a_client_that_leaves_while_the_image_is_spooled_frees_the_scanner(tmp_path):
    with GatewayProcess(tmp_path, test_conf=SLOW, config="image_transfer = length\n") as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300)))
        parts = urlsplit(gw.scan_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        body = el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text=token))
        conn.request("POST", parts.path, body=envelope(ns.scan_action("RetrieveImage"), body, gw.scan_url),
                     headers={"Content-Type": "application/soap+xml"})
        deadline = time.monotonic() + 30
        while "Processing" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        conn.close()
        deadline, state = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            status = call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                          el("RequestedElements", el("Name", text="wscn:JobStatus"))))
            state = status.text(".//wscn:JobState")
            if state in ("Aborted", "Canceled", "Completed"):
                break
            time.sleep(0.2)
        assert state == "Aborted"
        assert scan(gw, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500)).status == 200
        assert "Traceback" not in gw.log()


def job_state(gw, job_id):
    status = call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                  el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    return status.text(".//wscn:JobState")


@pytest.mark.parametrize("transfer, state_when_the_answer_starts", [("chunked", "Processing"),
                                                                     ("length", "Completed")])
def test_the_answer_starts_while_scanning_only_when_chunked(tmp_path, transfer, state_when_the_answer_starts):
    with GatewayProcess(tmp_path, test_conf=SLOW, config=f"image_transfer = {transfer}\n") as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="Grayscale8", dpi=150,
                                                              region=(0, 0, 4000, 4000))))
        conn, response = open_retrieve(gw.scan_url, job_id, token)
        try:
            assert response.status == 200
            assert job_state(gw, job_id) == state_when_the_answer_starts
            data = response.read()
        finally:
            conn.close()
        assert (response.getheader("content-length") is not None) == (transfer == "length")
        assert Image.open(io.BytesIO(Reply(200, {"content-type": response.getheader("content-type")},
                                           data).image)).size == (600, 600)
