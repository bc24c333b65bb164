"""Every operation response the gateway sends, in each of its variants, follows the WS-Scan rules."""

import threading
import time

import pytest
from lxml import etree

from tests.conformance.conftest import assert_conforms
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import (
    call, create_job, el, job_of, open_retrieve, q, retrieve, ticket,
)

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"
SCANNER_ELEMENTS = ["wscn:ScannerDescription", "wscn:ScannerConfiguration", "wscn:ScannerStatus",
                    "wscn:DefaultScanTicket"]
JOB_ELEMENTS = ["wscn:JobStatus", "wscn:ScanTicket", "wscn:Documents"]


def scanner_elements(gw, *names):
    body = el("GetScannerElementsRequest", el("RequestedElements", *[el("Name", text=n) for n in names]))
    return call(gw.scan_url, "GetScannerElements", body)


def job_elements(gw, job_id, *names):
    return call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                el("RequestedElements", *[el("Name", text=n) for n in names])))


def validate(gw, t):
    return call(gw.scan_url, "ValidateScanTicket", el("ValidateScanTicketRequest", t))


def cancel(gw, job_id):
    return call(gw.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))


def state_of(gw, job_id) -> str:
    return job_elements(gw, job_id, "wscn:JobStatus").text(".//wscn:JobState")


def a_job(gw, **kw) -> tuple[int, str]:
    created = create_job(gw.scan_url, ticket(**kw))
    assert created.status == 200, created.body
    return job_of(created)


SMALL = dict(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500))


# ------------------------------------------------------------ GetScannerElements


@pytest.mark.parametrize("name", SCANNER_ELEMENTS)
def test_each_scanner_element_follows_the_rules(switched, name):
    r = scanner_elements(switched, name)
    assert r.status == 200
    data = assert_conforms(f"GetScannerElements {name}", r).find(f"{W}ScannerElements/{W}ElementData")
    assert data.get("Valid") == "true"


def test_every_scanner_element_and_an_unknown_one_in_one_response_follow_the_rules(switched):
    r = scanner_elements(switched, *SCANNER_ELEMENTS, "wscn:NoSuchElement")
    body = assert_conforms("GetScannerElements all and unknown", r)
    assert [d.get("Valid") for d in body.iter(W + "ElementData")] == ["true"] * 4 + ["false"]


def test_a_vendor_element_name_is_answered_by_the_rules(switched):
    body = el("GetScannerElementsRequest", el("RequestedElements"))
    name = etree.SubElement(body[0], q("Name"), nsmap={"ihv": "http://example.com/scanner"})
    name.text = "ihv:TonerLevel"
    assert_conforms("GetScannerElements vendor name", call(switched.scan_url, "GetScannerElements", body))


def test_a_bare_keyword_name_is_read_as_a_scan_element(switched):
    r = scanner_elements(switched, "ScannerStatus")
    body = assert_conforms("GetScannerElements bare name", r)
    assert body.find(f"{W}ScannerElements/{W}ElementData").get("Valid") == "true"


def test_a_duplex_feeder_configuration_follows_the_rules(duplex):
    body = assert_conforms("ScannerConfiguration duplex", scanner_elements(duplex, "wscn:ScannerConfiguration"))
    assert body.find(f".//{W}ADF/{W}ADFBack") is not None


def test_a_long_scanner_name_is_cut_to_what_the_schema_allows(tmp_path):
    config = "\n[scanner:test:*]\nname = " + "Scanner " * 30 + "\nlocation = " + "Hall " * 40 + "\n"
    with GatewayProcess(tmp_path, config=config) as gw:
        body = assert_conforms("ScannerDescription long name", scanner_elements(gw, "wscn:ScannerDescription"))
    assert len(body.findtext(f".//{W}ScannerName")) == 127


def test_scanner_status_with_an_active_condition_and_then_a_cleared_one_follows_the_rules(switched):
    switched.jam.write_text("SANE_STATUS_JAMMED")
    try:
        job_id, token = a_job(switched, **SMALL)
        assert retrieve(switched.scan_url, job_id, token).fault_subcode == "wscn:OperationFailed"
        jammed = assert_conforms("ScannerStatus jammed", scanner_elements(switched, "wscn:ScannerStatus"))
    finally:
        switched.jam.unlink()
    assert jammed.find(f".//{W}ActiveConditions/{W}DeviceCondition").get("Id")
    job_id, token = a_job(switched, **SMALL)
    assert retrieve(switched.scan_url, job_id, token).status == 200
    cleared = assert_conforms("ScannerStatus cleared", scanner_elements(switched, "wscn:ScannerStatus"))
    assert cleared.find(f".//{W}ActiveConditions/{W}DeviceCondition") is None
    assert cleared.find(f".//{W}ConditionHistory/{W}ConditionHistoryEntry").get("Id")


# ------------------------------------------------------------ ValidateScanTicket


def full_ticket(**kw):
    """A ticket with every DocumentParameters element, several of them beyond what the test device does."""
    t = ticket(fmt="jfif", quality=0, images=1, source="Platen", color="RGB24", dpi=333,
               region=(100, 200, 3000, 2000), **kw)
    params = t.find(f"{W}DocumentParameters")
    extras = [el("ContentType", text="Photo"),
              el("InputSize", el("InputMediaSize", el("Width", text=8500), el("Height", text=11000))),
              el("Exposure", el("ExposureSettings", el("Contrast", text=100), el("Brightness", text=-50),
                                el("Sharpness", text=10))),
              el("Scaling", el("ScalingWidth", text=50), el("ScalingHeight", text=50)),
              el("Rotation", text=90)]
    sides = params.find(f"{W}MediaSides")
    for extra in extras:
        sides.addprevious(extra)
    return t


def long_named(t):
    """The ticket with a job name longer than the 255 characters the schema allows: echoed cut."""
    t.find(f"{W}JobDescription/{W}JobName").text = "n" * 300
    return t


@pytest.mark.parametrize("label, t", [
    ("valid", ticket(dpi=300)),
    ("corrected resolution", ticket(dpi=333)),
    ("corrected every element", full_ticket()),
    ("corrected colour for the format", ticket(fmt="tiff-single-g4", color="Grayscale8", dpi=75)),
    ("region cut to whole pixels", ticket(dpi=600, region=(0, 0, 11811, 100))),
    ("no document parameters", el("ScanTicket", el("JobDescription", el("JobName", text="j"),
                                                   el("JobOriginatingUserName", text="u")))),
    ("long job name", long_named(ticket(dpi=333))),
])
def test_validate_scan_ticket_responses_follow_the_rules(switched, label, t):
    assert_conforms(f"ValidateScanTicket {label}", validate(switched, t))


def test_a_corrected_duplex_ticket_follows_the_rules(duplex):
    r = validate(duplex, ticket(source="ADFDuplex", color="Grayscale8", dpi=333, images=2))
    body = assert_conforms("ValidateScanTicket duplex", r)
    assert body.find(f".//{W}ValidScanTicket//{W}MediaBack") is not None


def test_must_honor_is_read_unprefixed_too(switched):
    t = ticket(dpi=333)
    t.find(f".//{W}Resolution").set("MustHonor", "true")
    r = validate(switched, t)
    assert r.fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"


# ------------------------------------------------------------ CreateScanJob, RetrieveImage, CancelJob


@pytest.mark.parametrize("label, t", [
    ("plain", ticket(**SMALL)),
    ("corrected every element", full_ticket()),
    ("region cut to whole pixels", ticket(fmt="png", color="Grayscale8", dpi=600, region=(0, 0, 11811, 100))),
    ("defaults", el("ScanTicket", el("JobDescription", el("JobName", text="j"),
                                     el("JobOriginatingUserName", text="u")))),
])
def test_create_scan_job_responses_follow_the_rules(switched, label, t):
    r = create_job(switched.scan_url, t)
    assert r.status == 200, r.body
    assert_conforms(f"CreateScanJob {label}", r)
    assert cancel(switched, job_of(r)[0]).status == 200


def test_a_duplex_job_follows_the_rules(duplex):
    r = create_job(duplex.scan_url, ticket(source="ADFDuplex", color="Grayscale8", dpi=75,
                                           region=(0, 0, 1000, 1000), images=2))
    body = assert_conforms("CreateScanJob duplex", r)
    assert body.find(f"{W}ImageInformation/{W}MediaBackImageInfo") is not None
    assert body.find(f"{W}DocumentFinalParameters/{W}MediaSides/{W}MediaBack") is not None
    cancel(duplex, job_of(r)[0])


def test_the_soap_part_of_a_streamed_image_follows_the_rules(switched):
    job_id, token = a_job(switched, **SMALL)
    r = retrieve(switched.scan_url, job_id, token)
    assert r.headers.get("transfer-encoding") == "chunked"
    assert_conforms("RetrieveImage chunked", r)


def test_the_soap_part_of_an_image_sent_with_its_length_follows_the_rules(tmp_path):
    with GatewayProcess(tmp_path, config="image_transfer = length\n") as gw:
        job_id, token = a_job(gw, **SMALL)
        r = retrieve(gw.scan_url, job_id, token)
    assert "content-length" in r.headers
    assert_conforms("RetrieveImage length", r)


def test_cancel_job_response_follows_the_rules(switched):
    job_id, _token = a_job(switched, **SMALL)
    assert_conforms("CancelJob", cancel(switched, job_id))


# ------------------------------------------------------------ jobs in every state


def all_job_elements(gw, job_id, label):
    r = job_elements(gw, job_id, *JOB_ELEMENTS, "wscn:Document", "JobStatus", "wscn:NoSuchElement")
    assert r.status == 200
    return assert_conforms(f"GetJobElements {label}", r)


def test_job_elements_of_a_pending_job_follow_the_rules(switched):
    job_id, _token = a_job(switched, **SMALL)
    body = all_job_elements(switched, job_id, "pending")
    assert body.findtext(f".//{W}JobState") == "Pending"
    data = {d.get("Name"): d.get("Valid") for d in body.iter(W + "ElementData")}
    assert data["wscn:Documents"] == "false"  # no image yet, and Documents needs one
    cancel(switched, job_id)


def test_job_elements_of_a_processing_job_follow_the_rules(switched):
    job_id, token = a_job(switched, fmt="png", color="RGB24", dpi=300, region=(0, 0, 8500, 11000))
    conn, response = open_retrieve(switched.scan_url, job_id, token)
    reader = threading.Thread(target=response.read, daemon=True)
    reader.start()
    try:
        assert state_of(switched, job_id) == "Processing"
        body = all_job_elements(switched, job_id, "processing")
        assert body.findtext(f".//{W}JobStateReason") == "JobScanningAndTransfering"
    finally:
        reader.join(timeout=60)
        conn.close()


def test_job_elements_of_a_completed_job_follow_the_rules(switched):
    job_id, token = a_job(switched, **SMALL)
    assert retrieve(switched.scan_url, job_id, token, name="page-1").status == 200
    body = all_job_elements(switched, job_id, "completed")
    assert body.findtext(f".//{W}JobStateReason") == "JobCompletedSuccessfully"
    assert body.findtext(f".//{W}Documents/{W}Document/{W}DocumentDescription/{W}DocumentName") == "page-1"


def test_job_elements_of_a_cancelled_job_follow_the_rules(switched):
    job_id, _token = a_job(switched, **SMALL)
    cancel(switched, job_id)
    assert all_job_elements(switched, job_id, "cancelled").findtext(f".//{W}JobState") == "Canceled"


def test_job_elements_of_an_aborted_job_follow_the_rules(switched):
    switched.jam.write_text("SANE_STATUS_JAMMED")
    try:
        job_id, token = a_job(switched, **SMALL)
        retrieve(switched.scan_url, job_id, token)
    finally:
        switched.jam.unlink()
    body = all_job_elements(switched, job_id, "aborted")
    assert (body.findtext(f".//{W}JobState"), body.findtext(f".//{W}JobStateReason")) == \
        ("Aborted", "JobCompletedWithErrors")


def test_job_elements_of_a_timed_out_job_follow_the_rules(switched):
    job_id, _token = a_job(switched, **SMALL)
    deadline = time.monotonic() + 15
    while state_of(switched, job_id) != "Aborted" and time.monotonic() < deadline:
        time.sleep(0.2)
    body = all_job_elements(switched, job_id, "timed out")
    assert body.findtext(f".//{W}JobStateReason") == "JobTimedOut"


def test_active_jobs_with_and_without_a_job_follow_the_rules(switched):
    assert_conforms("GetActiveJobs none", call(switched.scan_url, "GetActiveJobs", el("GetActiveJobsRequest")))
    job_id, _token = a_job(switched, **SMALL)
    body = assert_conforms("GetActiveJobs one", call(switched.scan_url, "GetActiveJobs", el("GetActiveJobsRequest")))
    cancel(switched, job_id)
    assert body.findtext(f".//{W}JobSummary/{W}JobId") == str(job_id)


def test_job_history_follows_the_rules(switched):
    job_id, token = a_job(switched, **SMALL)
    retrieve(switched.scan_url, job_id, token)
    body = assert_conforms("GetJobHistory", call(switched.scan_url, "GetJobHistory", el("GetJobHistoryRequest")))
    assert body.find(f"{W}JobHistory/{W}JobSummary") is not None
