"""Every fault the scan service sends is a SOAP 1.2 fault with a subcode from the scan service's fault list."""

import subprocess
import sys

import pytest
from lxml import etree

from gateway.wsd import namespaces as ns
from tests.conformance.conftest import assert_conforms
from tests.support.gateway_process import ROOT
from tests.support.sinks import EventSink, subscribe
from tests.support.soap_client import call, create_job, el, envelope, job_of, post, retrieve, ticket

SMALL = dict(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500))


def fault_of(label, reply, subcode):
    assert reply.fault_subcode == subcode, reply.body[:1500]
    assert reply.status == (500 if subcode.split(":")[1].startswith(("Server", "OperationFailed")) else 400)
    assert_conforms(f"fault {label}", reply)


def a_job(gw, **kw):
    return job_of(create_job(gw.scan_url, ticket(**{**SMALL, **kw})))


def test_a_job_id_that_is_no_number_is_invalid_args(switched):
    r = call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text="seven")))
    fault_of("InvalidArgs", r, "wscn:InvalidArgs")


def test_an_unsupported_format_is_format_not_supported(switched):
    fault_of("FormatNotSupported create", create_job(switched.scan_url, ticket(fmt="xps")),
             "wscn:ClientErrorFormatNotSupported")
    fault_of("FormatNotSupported validate",
             call(switched.scan_url, "ValidateScanTicket", el("ValidateScanTicketRequest", ticket(fmt="xps"))),
             "wscn:ClientErrorFormatNotSupported")


def test_a_must_honor_value_out_of_reach_is_conflicting_required_parameters(switched):
    r = create_job(switched.scan_url, ticket(dpi=333, must_honor=("Resolution",)))
    fault_of("ConflictingRequiredParameters", r, "wscn:ClientErrorConflictingRequiredParameters")


def test_a_second_job_is_not_accepting_jobs(switched):
    job_id, _token = a_job(switched)
    try:
        fault_of("NotAcceptingJobs", create_job(switched.scan_url, ticket(**SMALL)), "wscn:ServerErrorNotAcceptingJobs")
    finally:
        call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))


@pytest.mark.parametrize("operation, body", [
    ("RetrieveImage", el("RetrieveImageRequest", el("JobId", text=3), el("JobToken", text="x"))),
    ("CancelJob", el("CancelJobRequest", el("JobId", text=3))),
    ("GetJobElements", el("GetJobElementsRequest", el("JobId", text=3),
                          el("RequestedElements", el("Name", text="wscn:JobStatus")))),
])
def test_an_unknown_job_is_job_id_not_found(switched, operation, body):
    fault_of(f"JobIdNotFound {operation}", call(switched.scan_url, operation, body), "wscn:ClientErrorJobIdNotFound")


def test_a_wrong_token_is_invalid_job_token(switched):
    job_id, token = a_job(switched)
    fault_of("InvalidJobToken", retrieve(switched.scan_url, job_id, token + "x"), "wscn:ClientErrorInvalidJobToken")
    call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))


def test_retrieving_from_a_cancelled_job_is_job_cancelled(switched):
    job_id, token = a_job(switched)
    call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
    fault_of("JobCancelled", retrieve(switched.scan_url, job_id, token), "wscn:ClientErrorJobCancelled")


def test_retrieving_past_the_last_image_is_no_images_available(switched):
    job_id, token = a_job(switched)
    assert retrieve(switched.scan_url, job_id, token).status == 200
    fault_of("NoImagesAvailable", retrieve(switched.scan_url, job_id, token), "wscn:ClientErrorNoImagesAvailable")


def test_a_jammed_scanner_is_operation_failed(switched):
    switched.jam.write_text("SANE_STATUS_JAMMED")
    try:
        job_id, token = a_job(switched)
        fault_of("OperationFailed", retrieve(switched.scan_url, job_id, token), "wscn:OperationFailed")
    finally:
        switched.jam.unlink()


def push_create(gw, identifier, token):
    return call(gw.scan_url, "CreateScanJob", el("CreateScanJobRequest", el("ScanIdentifier", text=identifier),
                                                 el("DestinationToken", text=token), ticket(**SMALL)))


def test_a_push_scan_with_a_wrong_identifier_or_token_is_refused_by_the_list(switched):
    with EventSink() as pc:
        r = subscribe(switched.scan_url, pc.url, ("ScanAvailableEvent",), destinations=(("PC-F", "Scan"),))
        token = r.text(".//wscn:DestinationToken")
        fault_of("InvalidScanIdentifier", push_create(switched, "urn:uuid:none", token),
                 "wscn:ClientErrorInvalidScanIdentifier")
        assert push(switched, "PC-F").returncode == 0
        assert pc.wait_for(lambda ev: len(ev) == 1)
        identifier = etree.fromstring(pc.events[0]["body"]).findtext(ns.qname(ns.WSCN, "ScanIdentifier"))
        fault_of("InvalidDestinationToken", push_create(switched, identifier, "not-the-token"),
                 "wscn:ClientErrorInvalidDestinationToken")


def push(gw, destination):
    return subprocess.run([sys.executable, "-m", "gateway", "push", "--port", str(gw.port), "--state-dir",
                           str(gw.state), "test:0", destination], capture_output=True, text=True, timeout=30,
                          cwd=ROOT)


@pytest.mark.parametrize("label, data", [
    ("ActionNotSupported", envelope(ns.WSCN + "/MakeCoffee", el("MakeCoffeeRequest"))),
    ("malformed XML", b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><oops>"),
])
def test_faults_outside_the_scan_service_are_soap_faults_too(switched, label, data):
    r = post(switched.scan_url, data)
    assert r.status == 400
    assert_conforms(f"fault {label}", r)


def test_a_ws_eventing_fault_is_a_soap_fault_too(switched):
    r = subscribe(switched.scan_url, "http://127.0.0.1:9/x", ("JobStatusEvent",), expires="yesterday")
    assert r.fault_subcode == "wse:InvalidExpirationTime"
    assert_conforms("fault InvalidExpirationTime", r)


def test_the_fault_relates_to_the_request_it_answers(switched):
    data = envelope(ns.scan_action("CancelJob"), el("CancelJobRequest", el("JobId", text=3)))
    r = post(switched.scan_url, data)
    sent = etree.fromstring(data).findtext(".//" + ns.qname(ns.WSA, "MessageID"))
    assert r.text(".//wsa:RelatesTo") == sent
