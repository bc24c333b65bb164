"""The eSCL REST front end of the real gateway on SANE's test device, request by request."""

from __future__ import annotations

import io
import re
import struct
import threading
import time

import pytest
from PIL import Image

from tests.support.escl_client import Answer, create, escl_root, get, open_document, request, settings
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, create_job, el, job_of, ticket

SLOW = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def slow_gateway(tmp_path_factory):
    with GatewayProcess(tmp_path_factory.mktemp("slow"), test_conf=SLOW) as gw:
        yield gw


def created(gw, body: bytes | None = None, **kw) -> str:
    """A new job's URL (the scanner free first: an earlier test's job may still be ending)."""
    deadline = time.monotonic() + 30
    while True:
        answer = create(escl_root(gw), body or settings(), **kw)
        if answer.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer.status == 201, answer.body
    return answer.header("location")


def next_document(job_url: str) -> Answer:
    return get(f"{job_url}/NextDocument")


def wsd_status_is_free(gw):
    return call(gw.scan_url, "GetActiveJobs", el("GetActiveJobsRequest")).xml.find(".//{*}JobSummary") is None


# ------------------------------------------------------------ capabilities, status, paths

def test_capabilities_are_xml_whose_uris_name_the_address_the_client_used(gateway):
    answer = get(f"{escl_root(gateway)}/ScannerCapabilities", headers={"Host": "pi.example:4242"})
    assert answer.status == 200 and answer.header("content-type") == "text/xml"
    assert answer.text("/scan:ScannerCapabilities/scan:UUID") == gateway.uuid
    assert answer.text("//scan:IconURI") == f"http://pi.example:4242/{gateway.uuid}/eSCL/ScannerIcon"
    assert answer.text("//scan:AdminURI") == "http://pi.example:4242/"


def test_capabilities_answer_at_once_while_a_scan_holds_the_scanner(slow_gateway):
    job = created(slow_gateway, settings(dpi=300, region=(0, 0, 2400, 3300)))
    conn, response = open_document(job)
    try:
        response.read1(1024)
        started = time.monotonic()
        answer = get(f"{escl_root(slow_gateway)}/ScannerCapabilities", timeout=5)
        assert answer.status == 200 and time.monotonic() - started < 1.0
    finally:
        request("DELETE", job)
        conn.close()


def test_the_first_scanner_is_also_served_at_slash_escl(gateway):
    answer = get(f"http://{gateway.host}:{gateway.port}/eSCL/ScannerCapabilities")
    assert answer.status == 200 and answer.text("//scan:UUID") == gateway.uuid
    assert answer.text("//scan:IconURI").endswith("/eSCL/ScannerIcon")


def test_a_job_created_at_slash_escl_lives_under_slash_escl(gateway):
    root = f"http://{gateway.host}:{gateway.port}/eSCL"
    deadline = time.monotonic() + 30
    while (answer := create(root, settings())).status == 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert answer.status == 201 and answer.header("location").startswith(f"{root}/ScanJobs/")
    assert next_document(answer.header("location")).header("content-type") == "image/png"


def test_an_escl_job_is_named_for_the_status_page_with_its_client(gateway):
    job = created(gateway)
    try:
        page = get(f"http://{gateway.host}:{gateway.port}/").body.decode()
        assert "eSCL scan" in page
    finally:
        request("DELETE", job)


def test_an_idle_scanner_is_idle_with_a_loaded_feeder(gateway):
    answer = get(f"{escl_root(gateway)}/ScannerStatus")
    assert answer.status == 200 and answer.header("content-type") == "text/xml"
    assert answer.text("/scan:ScannerStatus/pwg:State") == "Idle"
    assert answer.text("/scan:ScannerStatus/scan:AdfState") == "ScannerAdfLoaded"


def test_the_state_is_processing_from_the_jobs_creation_to_its_end_whichever_protocol_made_it(gateway):
    job = created(gateway)
    assert get(f"{escl_root(gateway)}/ScannerStatus").text("/scan:ScannerStatus/pwg:State") == "Processing"
    request("DELETE", job)
    assert get(f"{escl_root(gateway)}/ScannerStatus").text("/scan:ScannerStatus/pwg:State") == "Idle"
    job_id, _token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    try:
        assert get(f"{escl_root(gateway)}/ScannerStatus").text("/scan:ScannerStatus/pwg:State") == "Processing"
    finally:
        call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))


def test_the_icon_is_a_png_whose_side_is_a_power_of_two(gateway):
    answer = get(f"{escl_root(gateway)}/ScannerIcon")
    assert answer.status == 200 and answer.header("content-type") == "image/png"
    width, height = struct.unpack(">II", answer.body[16:24])
    assert width == height and width & (width - 1) == 0 and width >= 128
    assert Image.open(io.BytesIO(answer.body)).mode == "RGBA"


def test_an_unknown_path_is_404_and_a_wrong_method_405(gateway):
    assert get(f"{escl_root(gateway)}/NoSuchThing").status == 404
    assert request("POST", f"{escl_root(gateway)}/ScannerStatus", b"<x/>").status == 405
    assert get(f"{escl_root(gateway)}/ScanJobs/not-a-job/NextDocument").status == 404


# ------------------------------------------------------------ jobs

def test_a_job_is_created_with_an_absolute_location_from_the_host_header_and_an_unguessable_id(gateway):
    deadline = time.monotonic() + 30
    while (answer := create(escl_root(gateway), settings(), headers={"Host": "scanner.lan:8080"})).status == 503:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert answer.status == 201
    location = answer.header("location")
    prefix = f"http://scanner.lan:8080/{gateway.uuid}/eSCL/ScanJobs/"
    assert location.startswith(prefix)
    job_id = location[len(prefix):]
    assert "/" not in job_id and UUID_RE.fullmatch(job_id)
    local = location.replace("scanner.lan:8080", f"{gateway.host}:{gateway.port}")
    assert request("DELETE", local).status == 200


def test_next_document_is_the_image_asked_with_exactly_its_type(gateway):
    job = created(gateway, settings(color="Grayscale8", dpi=75, region=(0, 0, 300, 600)))
    answer = next_document(job)
    assert answer.status == 200 and answer.header("content-type") == "image/png"
    picture = Image.open(io.BytesIO(answer.body))
    assert picture.mode == "L" and picture.size == (75, 150)


@pytest.mark.parametrize("mime, magic", [("image/jpeg", b"\xff\xd8\xff"), ("application/pdf", b"%PDF-")])
def test_jpeg_and_pdf_go_out_with_their_own_type(gateway, mime, magic):
    answer = next_document(created(gateway, settings(mime=mime, color="RGB24")))
    assert answer.status == 200 and answer.header("content-type") == mime
    assert answer.body.startswith(magic)


def test_document_format_ext_alone_is_enough(gateway):
    answer = next_document(created(gateway, settings(mime=None, ext="image/jpeg")))
    assert answer.header("content-type") == "image/jpeg"


def test_the_image_streams_while_the_scanner_scans(slow_gateway):
    job = created(slow_gateway, settings(color="RGB24", dpi=300, region=(0, 0, 2400, 3300)))
    conn, response = open_document(job)
    try:
        assert response.status == 200 and response.getheader("transfer-encoding") == "chunked"
        assert response.read1(4096).startswith(b"\x89PNG")
        status = get(f"{escl_root(slow_gateway)}/ScannerStatus")
        assert status.text("/scan:ScannerStatus/pwg:State") == "Processing"
        assert status.text("//scan:JobInfo/pwg:JobState") == "Processing"
    finally:
        request("DELETE", job)
        conn.close()


def test_a_platen_job_has_one_document_then_404(gateway):
    job = created(gateway)
    assert next_document(job).status == 200
    assert next_document(job).status == 404
    status = get(f"{escl_root(gateway)}/ScannerStatus")
    info = status.xml().xpath("//scan:JobInfo[pwg:JobUri=$uri]", uri=job[job.index(f"/{gateway.uuid}"):],
                              namespaces={"scan": "http://schemas.hp.com/imaging/escl/2011/05/03",
                                          "pwg": "http://www.pwg.org/schemas/2010/12/sm"})
    assert info and info[0].findtext("{*}JobState") == "Completed"


def test_a_feeder_batch_ends_with_404_on_the_empty_feeder_and_the_feeder_is_not_refused_after(gateway):
    job = created(gateway, settings(source="Feeder"))
    pages = 0
    while (answer := next_document(job)).status == 200:
        assert answer.body.startswith(b"\x89PNG")
        pages += 1
        assert pages <= 20
    assert answer.status == 404 and pages == 10
    status = get(f"{escl_root(gateway)}/ScannerStatus")
    assert status.text("/scan:ScannerStatus/pwg:State") == "Idle"
    assert status.text("/scan:ScannerStatus/scan:AdfState") == "ScannerAdfLoaded"


def test_a_pdf_from_the_feeder_holds_the_whole_batch_in_one_document(gateway):
    job = created(gateway, settings(source="Feeder", mime="application/pdf"))
    first = next_document(job)
    assert first.status == 200 and first.body.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", first.body)) == 10
    assert next_document(job).status == 404


def test_scan_image_info_gives_the_image_size(gateway):
    job = created(gateway, settings(dpi=75, region=(0, 0, 300, 600)))
    assert next_document(job).status == 200
    info = get(f"{job}/ScanImageInfo")
    assert info.status == 200
    assert (info.text("//scan:ActualWidth"), info.text("//scan:ActualHeight")) == ("75", "150")


def test_scan_buffer_info_gives_the_image_the_settings_would_give_without_a_job(gateway):
    def jobs():
        return len(get(f"{escl_root(gateway)}/ScannerStatus").xml().findall(".//{*}JobInfo"))
    before = jobs()
    answer = request("PUT", f"{escl_root(gateway)}/ScanBufferInfo",
                     settings(color="RGB24", dpi=150, region=(0, 0, 600, 300)))
    assert answer.status == 200 and answer.header("content-type") == "text/xml"
    assert (answer.text("//scan:ImageWidth"), answer.text("//scan:ImageHeight")) == ("300", "150")
    assert answer.text("//scan:BytesPerLine") == "900"
    assert answer.text("/scan:ScanBufferInfo/scan:ScanSettings/scan:ColorMode") == "RGB24"
    assert jobs() == before


def test_scan_buffer_info_refuses_settings_the_scanner_cannot_do(gateway):
    assert request("PUT", f"{escl_root(gateway)}/ScanBufferInfo", settings(dpi=77)).status == 409
    assert request("PUT", f"{escl_root(gateway)}/ScanBufferInfo", b"<nope").status == 400


# ------------------------------------------------------------ cancel

def test_delete_cancels_an_active_job_and_a_second_delete_is_404(gateway):
    job = created(gateway)
    assert request("DELETE", job).status == 200
    assert request("DELETE", job).status == 404
    assert next_document(job).status == 404
    assert request("DELETE", f"{escl_root(gateway)}/ScanJobs/never-was").status == 404


def test_delete_ends_the_image_stream_within_a_second(slow_gateway):
    job = created(slow_gateway, settings(color="RGB24", dpi=300, region=(0, 0, 2400, 3300)))
    conn, response = open_document(job, timeout=30)
    ended = threading.Event()

    def read_all():
        try:
            while response.read1(1 << 20):
                pass
        except OSError:
            pass
        except Exception:  # http.client's IncompleteRead and friends: the stream was cut
            pass
        ended.set()
    assert response.status == 200
    threading.Thread(target=read_all, daemon=True).start()
    time.sleep(0.2)
    assert request("DELETE", job).status == 200
    cancelled = time.monotonic()
    ended.wait(5)
    took = time.monotonic() - cancelled
    conn.close()
    assert took < 1.0, f"the stream stayed open {took:.1f} s after DELETE"


def test_a_client_that_goes_away_mid_image_frees_the_scanner_for_the_next_job(slow_gateway):
    job = created(slow_gateway, settings(color="RGB24", dpi=300, region=(0, 0, 2400, 3300)))
    conn, response = open_document(job)
    assert response.read1(4096).startswith(b"\x89PNG")
    conn.close()
    deadline = time.monotonic() + 10
    while (answer := create(escl_root(slow_gateway), settings())).status == 503:
        assert time.monotonic() < deadline, "the scanner stayed busy after the client left"
        time.sleep(0.05)
    assert answer.status == 201
    request("DELETE", answer.header("location"))
    view = get(f"{escl_root(slow_gateway)}/ScannerStatus").xml()
    states = view.xpath("//scan:JobInfo[pwg:JobUuid=$id]/pwg:JobState/text()", id=job.rsplit("/", 1)[1],
                        namespaces={"scan": "http://schemas.hp.com/imaging/escl/2011/05/03",
                                    "pwg": "http://www.pwg.org/schemas/2010/12/sm"})
    assert states == ["Aborted"]


# ------------------------------------------------------------ busy, across protocols

def test_a_second_escl_job_while_one_holds_the_scanner_is_503(gateway):
    job = created(gateway)
    try:
        assert create(escl_root(gateway), settings()).status == 503
    finally:
        request("DELETE", job)


def test_a_wsd_job_makes_an_escl_job_503(gateway):
    deadline = time.monotonic() + 30
    while (wsd := create_job(gateway.scan_url, ticket(dpi=75))).status != 200:
        assert time.monotonic() < deadline, wsd.body
        time.sleep(0.05)
    job_id, _token = job_of(wsd)
    try:
        answer = create(escl_root(gateway), settings())
        assert answer.status == 503 and b"busy" in answer.body
    finally:
        call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))


def test_an_escl_job_makes_a_wsd_job_refused_as_not_accepting_jobs(gateway):
    job = created(gateway)
    try:
        refused = create_job(gateway.scan_url, ticket(dpi=75))
        assert refused.fault_subcode == "wscn:ServerErrorNotAcceptingJobs"
    finally:
        request("DELETE", job)


# ------------------------------------------------------------ refusals

@pytest.mark.parametrize("body", [
    settings(source="Camera"),
    settings(mime="image/tiff"),
    settings(dpi=77),
    settings(source="Platen", duplex=True),
], ids=["camera", "tiff", "77 dpi", "platen duplex"])
def test_settings_the_scanner_cannot_do_are_409(gateway, body):
    answer = create(escl_root(gateway), body)
    assert answer.status == 409 and answer.header("content-type").startswith("text/plain")


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<?xml version='1.0'?><ScanSettings/>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><scan:ScanSettings xmlns:scan='http://schemas.hp.com/imaging/escl/2011/05/03'/>",
    settings().replace(b">75<", b">seventy-five<"),
    b"",
], ids=["not xml", "wrong root", "dtd", "not a number", "empty"])
def test_malformed_bodies_are_400(gateway, body):
    assert create(escl_root(gateway), body).status == 400


def test_a_body_over_the_limit_is_413_and_the_gateway_goes_on(gateway):
    padding = b"<!--" + b"x" * 70_000 + b"-->"
    answer = create(escl_root(gateway), settings().replace(b"<pwg:Version>", padding + b"<pwg:Version>"))
    assert answer.status == 413
    assert get(f"{escl_root(gateway)}/ScannerStatus").status == 200


def test_each_refusal_is_one_log_line_and_no_traceback(gateway):
    marker = "ScanJobs/refusal-marker-1/NextDocument"
    assert get(f"{escl_root(gateway)}/{marker}").status == 404
    deadline = time.monotonic() + 5
    while marker not in gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in gateway.log().splitlines() if marker in line and "eSCL:" in line]
    assert len(lines) == 1 and "404" in lines[0]
    assert "Traceback" not in gateway.log()


@pytest.mark.parametrize("sane_status, adf_state", [
    ("SANE_STATUS_JAMMED", "ScannerAdfJam"),
    ("SANE_STATUS_COVER_OPEN", "ScannerAdfDoorOpen"),
])
def test_a_jam_or_open_cover_is_409_and_shows_in_the_feeder_state(tmp_path, sane_status, adf_state):
    with GatewayProcess(tmp_path, test_conf=f'geometry_max 300.0\nread-status-code "{sane_status}"\n') as gw:
        job = created(gw)
        assert next_document(job).status == 409
        status = get(f"{escl_root(gw)}/ScannerStatus")
        assert status.text("/scan:ScannerStatus/pwg:State") == "Idle"
        assert status.text("/scan:ScannerStatus/scan:AdfState") == adf_state
        assert "Traceback" not in gw.log()


def test_escl_no_serves_wsd_only(tmp_path):
    with GatewayProcess(tmp_path, config="escl = no\n") as gw:
        assert get(f"{escl_root(gw)}/ScannerCapabilities").status != 200
        assert get(f"http://{gw.host}:{gw.port}/eSCL/ScannerCapabilities").status == 404
        assert create_job(gw.scan_url, ticket(dpi=75)).status == 200
