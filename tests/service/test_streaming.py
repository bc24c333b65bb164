"""The image leaves while the scanner is still scanning; connections are kept alive."""

import http.client
from urllib.parse import urlsplit

import pytest

from gateway.wsd import namespaces as ns
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, create_job, el, envelope, job_of, open_retrieve, ticket

SLOW = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"


@pytest.fixture(scope="module")
def slow_gateway(tmp_path_factory):
    with GatewayProcess(tmp_path_factory.mktemp("slow"), test_conf=SLOW) as gw:
        yield gw


def test_image_bytes_arrive_while_the_job_is_still_scanning(slow_gateway):
    gw = slow_gateway
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300,
                                                         region=(0, 0, 8000, 11000))))
    conn, response = open_retrieve(gw.scan_url, job_id, token)
    first = response.read1(65536)
    assert response.status == 200 and first
    during = call(gw.scan_url, "GetActiveJobs", el("GetActiveJobsRequest"))
    assert during.text(".//wscn:JobSummary/wscn:JobState") == "Processing"
    rest = response.read()
    conn.close()
    assert b"\x89PNG" in first + rest[:100] and len(first) < len(first) + len(rest)
    after = call(gw.scan_url, "GetJobHistory", el("GetJobHistoryRequest"))
    assert after.text(".//wscn:JobSummary/wscn:JobState") == "Completed"


def test_one_connection_carries_several_requests(gateway):
    parts = urlsplit(gateway.scan_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    statuses, sockets = [], set()
    for _ in range(3):
        conn.request("POST", parts.path, body=envelope(ns.scan_action("GetActiveJobs"), el("GetActiveJobsRequest")),
                     headers={"Content-Type": "application/soap+xml"})
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
        sockets.add(id(conn.sock))
        assert not r.will_close
    conn.close()
    assert statuses == [200, 200, 200] and len(sockets) == 1


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    from pathlib import Path
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def test_a_client_that_stops_reading_pauses_the_scan_instead_of_filling_memory(fresh_gateway):
    import time
    gw = fresh_gateway
    idle = rss_mib(gw.proc.pid)
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="dib", color="RGB24", dpi=600,
                                                         region=(0, 0, 8268, 11693))))
    conn, response = open_retrieve(gw.scan_url, job_id, token)
    response.read1(65536)
    time.sleep(3)  # a 104 MB page that nobody reads: the scanner must wait, not the memory fill
    held = rss_mib(gw.proc.pid) - idle
    rest = 0
    while chunk := response.read1(1 << 20):
        rest += len(chunk)
    conn.close()
    assert held < 32, f"the gateway grew by {held:.0f} MiB while the client did not read"
    assert rest > 100_000_000


def test_a_client_that_goes_away_mid_image_aborts_the_job_and_frees_the_scanner(slow_gateway):
    gw = slow_gateway
    for _ in range(3):
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300,
                                                             region=(0, 0, 8000, 8000))))
        conn, response = open_retrieve(gw.scan_url, job_id, token)
        response.read1(1024)
        conn.sock.close()
        conn.close()
        import time
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                         el("RequestedElements", el("Name", text="wscn:JobStatus")))).text(".//wscn:JobState")
            if state == "Aborted":
                break
            time.sleep(0.2)
        assert state == "Aborted"
    after = create_job(gw.scan_url, ticket(dpi=75))
    assert after.status == 200
    call(gw.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_of(after)[0])))


def test_cancel_during_a_transfer_ends_the_job_only_when_the_scan_stopped_and_the_next_job_gets_its_settings(
        slow_gateway):
    import io
    import time

    from PIL import Image
    from tests.support.soap_client import retrieve
    gw = slow_gateway
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300,
                                                         region=(0, 0, 8000, 11000))))
    conn, response = open_retrieve(gw.scan_url, job_id, token)
    response.read1(4096)
    call(gw.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
    deadline = time.monotonic() + 30
    while True:
        created = create_job(gw.scan_url, ticket(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 2000, 1000)))
        if created.status == 200 or time.monotonic() > deadline:
            break
        assert created.fault_subcode == "wscn:ServerErrorNotAcceptingJobs"
        time.sleep(0.1)
    conn.close()
    assert created.status == 200
    state = call(gw.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                 el("RequestedElements", el("Name", text="wscn:JobStatus")))).text(".//wscn:JobState")
    assert state == "Canceled"
    second, token2 = job_of(created)
    picture = Image.open(io.BytesIO(retrieve(gw.scan_url, second, token2).image))
    assert picture.mode == "L"
    assert picture.size == (int(created.text(".//wscn:PixelsPerLine")), int(created.text(".//wscn:NumberOfLines")))


def create_when_free(gw, t, timeout: float = 30):
    """CreateScanJob, retried while the scanner is still busy finishing an earlier job."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        created = create_job(gw.scan_url, t)
        if created.status == 200 or time.monotonic() > deadline:
            return created
        assert created.fault_subcode == "wscn:ServerErrorNotAcceptingJobs", created.body
        time.sleep(0.05)



def test_a_cancel_while_the_image_streams_ends_the_response_within_a_second_every_time(gateway):
    import threading
    import time
    for attempt in range(16):
        created = create_when_free(gateway, ticket(fmt="dib", color="RGB24", dpi=600, region=(0, 0, 8000, 11000)))
        assert created.status == 200
        job_id, token = job_of(created)
        conn, response = open_retrieve(gateway.scan_url, job_id, token, timeout=30)
        ended = threading.Event()

        def read_all():
            try:
                while response.read1(1 << 20):
                    pass
            except (OSError, http.client.HTTPException):
                pass
            ended.set()
        threading.Thread(target=read_all, daemon=True).start()
        time.sleep(0.02 * (attempt % 8))
        call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
        cancelled = time.monotonic()
        ended.wait(5)
        took = time.monotonic() - cancelled
        conn.close()
        assert took < 1.0, f"attempt {attempt}: the response stayed open {took:.1f} s after the cancel"



def wait_for_log(gw, text: str, timeout: float = 30) -> str:
    import time
    deadline = time.monotonic() + timeout
    while text not in gw.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    return gw.log()


def test_a_client_that_goes_away_mid_image_is_one_log_line_and_no_traceback(tmp_path):
    with GatewayProcess(tmp_path, test_conf=SLOW) as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300,
                                                             region=(0, 0, 8000, 8000))))
        conn, response = open_retrieve(gw.scan_url, job_id, token)
        response.read1(1024)
        conn.sock.close()
        conn.close()
        log = wait_for_log(gw, f"job {job_id} on")
    assert "Traceback" not in log and "AttributeError" not in log, log[-3000:]
    assert log.count(f"image of job {job_id} not delivered") == 1, log[-3000:]


BUFFER_DELAY = 0.2
"""The test backend with read-delay writes 64 KiB of a plain picture, then waits read-delay-duration."""
VERY_SLOW = f"geometry_max 300.0\nread-delay true\nread-delay-duration {int(BUFFER_DELAY * 1e6)}\n"


def test_the_first_image_bytes_leave_within_a_few_lines_of_the_scanners_first_data(tmp_path):
    import time
    with GatewayProcess(tmp_path, test_conf=VERY_SLOW) as gw:
        created = create_job(gw.scan_url, ticket(fmt="png", color="Grayscale8", dpi=300, region=(0, 0, 8000, 11000)))
        job_id, token = job_of(created)
        bytes_per_line = int(created.text(".//wscn:MediaFrontImageInfo/wscn:PixelsPerLine"))
        lines_per_second = 64 * 1024 / BUFFER_DELAY / bytes_per_line
        # The scanner's first data comes one backend buffer after the start; allow a few lines more and
        # the gateway's own work. A whole 256 KiB strip would take four buffers.
        bound = BUFFER_DELAY + 8 / lines_per_second + 0.15
        sent = time.monotonic()
        conn, response = open_retrieve(gw.scan_url, job_id, token)
        first = response.read1(65536)
        took = time.monotonic() - sent
        conn.close()
        call(gw.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
    assert response.status == 200 and first
    assert took < bound, f"the first bytes took {took:.2f} s; the bound is {bound:.2f} s"
