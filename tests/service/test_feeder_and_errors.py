"""The feeder, and SANE errors from the real test backend, seen through the scan service."""

import os

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


def gateway_with_a_full_temporary_directory(workdir, test_conf: str) -> GatewayProcess:
    """The gateway with TMPDIR on a 64 KiB tmpfs of its own (a private mount namespace)."""
    import shutil
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a small tmpfs")
    tmp = workdir / "small-tmp"
    tmp.mkdir(parents=True)
    script = 'mount -t tmpfs -o size=64k tmpfs "$0" && TMPDIR="$0" exec "$@"'
    return GatewayProcess(workdir, test_conf=test_conf,
                          wrapper=["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(tmp)])


def test_a_full_temporary_directory_during_a_spooled_scan_is_one_clear_log_line(tmp_path):
    with gateway_with_a_full_temporary_directory(tmp_path, "geometry_max 300.0\nhand-scanner true\n") as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="dib", color="Grayscale8", dpi=300,
                                                             region=(0, 0, 4000, 4000))))
        try:
            r = retrieve(gw.scan_url, job_id, token)
            assert r.status != 200
        except ConnectionError:
            pass  # the image part had begun: the transfer is cut off
        state, _reasons, _scans = job_state(gw, job_id)
        assert state == "Aborted"
        assert second_job_works(gw)
        log = gw.log()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("No space left on device") == 1, log[-3000:]


def second_job_works(gw) -> bool:
    created = create_job(gw.scan_url, ticket(dpi=75, region=(0, 0, 1000, 1000)))
    if created.status != 200:
        return False
    return retrieve(gw.scan_url, *job_of(created)).status == 200


def test_hundreds_of_jammed_scans_in_a_row_each_end_with_their_fault(tmp_path):
    """A jam right after sane_start cancels the backend's reader thread while it still sets up: each must end."""
    conf = 'geometry_max 300.0\nread-status-code "SANE_STATUS_JAMMED"\ntest-picture "Color pattern"\n'
    with GatewayProcess(tmp_path, test_conf=conf) as gw:
        for attempt in range(300):
            job_id, token = job_of(create_job(gw.scan_url, ticket(color="RGB24", dpi=300)))
            r = retrieve(gw.scan_url, job_id, token)
            assert r.fault_subcode == "wscn:OperationFailed", f"attempt {attempt}: {r.body[:300]!r}"
