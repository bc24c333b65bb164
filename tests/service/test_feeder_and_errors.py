"""The feeder, and SANE errors from the real test backend, seen through the scan service."""

import pytest

from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket


def status(gw):
    return call(gw.scan_url, "GetScannerElements",
                el("GetScannerElementsRequest", el("RequestedElements", el("Name", text="wscn:ScannerStatus"))))


def job_state(gw, job_id):
    r = call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
             el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    return (r.text(".//wscn:JobState"), [e.text for e in r.xml.iter("{*}JobStateReason")],
            int(r.text(".//wscn:ScansCompleted")))


def test_feeder_job_with_images_to_transfer_0_scans_until_the_feeder_is_empty(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(source="ADF", color="Grayscale8", dpi=75,
                                                             region=(0, 0, 1000, 1000), images=0)))
    pages = 0
    while True:
        r = retrieve(gateway.scan_url, job_id, token, name=f"page{pages}")
        if r.status != 200:
            break
        assert r.image.startswith(b"\x89PNG")
        pages += 1
    assert pages == 10
    assert r.status == 400 and r.fault_subcode == "wscn:ClientErrorNoImagesAvailable"
    assert job_state(gateway, job_id) == ("Completed", ["JobCompletedSuccessfully"], 10)


def test_feeder_job_ends_after_images_to_transfer(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(source="ADF", color="Grayscale8", dpi=75,
                                                             region=(0, 0, 1000, 1000), images=3)))
    assert [retrieve(gateway.scan_url, job_id, token).status for _ in range(3)] == [200, 200, 200]
    assert retrieve(gateway.scan_url, job_id, token).fault_subcode == "wscn:ClientErrorNoImagesAvailable"
    assert job_state(gateway, job_id)[0] == "Completed"


@pytest.mark.parametrize("sane_status, condition, reason", [
    ("SANE_STATUS_JAMMED", "MediaJam", "MediaJam"),
    ("SANE_STATUS_COVER_OPEN", "CoverOpen", "CoverOpen"),
])
def test_a_sane_error_becomes_a_fault_a_job_reason_and_a_scanner_condition(tmp_path, sane_status, condition,
                                                                           reason):
    conf = f'geometry_max 300.0\nread-status-code "{sane_status}"\n'
    with GatewayProcess(tmp_path, test_conf=conf) as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(dpi=75)))
        r = retrieve(gw.scan_url, job_id, token)
        assert r.status == 500 and r.fault_subcode == "wscn:OperationFailed"
        s = status(gw)
        assert s.text(".//wscn:ScannerState") == "Stopped"
        assert s.text(".//wscn:ScannerStateReason") == reason
        assert s.text(".//wscn:ActiveConditions/wscn:DeviceCondition/wscn:Name") == condition
        state, reasons, scans = job_state(gw, job_id)
        assert state == "Aborted" and reasons == ["JobCompletedWithErrors"] and scans == 0
        assert "Traceback" not in gw.log()


def test_a_device_error_leaves_the_service_answering(tmp_path):
    conf = 'geometry_max 300.0\nread-status-code "SANE_STATUS_IO_ERROR"\n'
    with GatewayProcess(tmp_path, test_conf=conf) as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(dpi=75)))
        assert retrieve(gw.scan_url, job_id, token).status == 500
        assert status(gw).text(".//wscn:ScannerStateReason") == "AttentionRequired"
        second = create_job(gw.scan_url, ticket(dpi=75))
        assert second.status == 200
        assert "Traceback" not in gw.log()
