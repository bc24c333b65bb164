"""Two scanners in one gateway (SANE's test:0 and test:1) starting at the same moment, and a scanner that hangs."""

import http.client
import io
import os
import sys
import threading
import time

from PIL import Image

from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket


def scan_both_at_once(gw, urls):
    """CreateScanJob on each scanner, then both RetrieveImage requests released at the same instant."""
    jobs = [job_of(create_job(url, ticket(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 2000, 2000))))
            for url in urls]
    barrier = threading.Barrier(len(urls))
    results = [None] * len(urls)

    def one(i):
        barrier.wait()
        try:
            results[i] = retrieve(urls[i], *jobs[i])
        except OSError as e:
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    return results


def test_two_scans_started_at_the_same_instant_on_two_scanners_both_arrive_whole(gateway):
    urls = [f"http://{gateway.host}:{gateway.port}/{gateway.uuids[name]}/scan" for name in ("test:0", "test:1")]
    for attempt in range(100):
        results = scan_both_at_once(gateway, urls)
        for url, r in zip(urls, results):
            assert r is not None and not isinstance(r, Exception), f"attempt {attempt}: {url}: {r!r}"
            assert r.status == 200, f"attempt {attempt}: {r.body[:600]!r}"
            assert Image.open(io.BytesIO(r.image)).size == (150, 150)


def stuck_gateway(workdir, stuck_file, timeout: int = 2) -> GatewayProcess:
    entry = [sys.executable, str(ROOT / "tests" / "support" / "stuck_gateway.py")]
    os.environ["SANE_WSD_TEST_STUCK"] = str(stuck_file)
    return GatewayProcess(workdir, entry=entry, config=f"device_timeout = {timeout}\n")


def job_state(url, job_id):
    r = call(url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
             el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    return r.text(".//wscn:JobState"), [e.text for e in r.xml.iter("{*}JobStateReason")]


def scan_is_cut_off(url, job_id, token) -> float:
    """Seconds until a RetrieveImage ended without a whole image (a fault, or the transfer cut off)."""
    started = time.monotonic()
    try:
        r = retrieve(url, job_id, token)
        assert r.status != 200, "the image arrived whole"
    except (ConnectionError, http.client.HTTPException):
        pass
    return time.monotonic() - started


def test_a_device_read_that_hangs_ends_its_job_as_scanner_stopped_and_the_scanner_scans_again(tmp_path):
    stuck = tmp_path / "stuck"
    with stuck_gateway(tmp_path / "gw", stuck) as gw:
        stuck.write_text("until-cancel")
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="dib", color="RGB24", dpi=300)))
        assert scan_is_cut_off(gw.scan_url, job_id, token) < 10
        deadline = time.monotonic() + 10
        while job_state(gw.scan_url, job_id)[0] != "Aborted" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job_state(gw.scan_url, job_id) == ("Aborted", ["ScannerStopped"])
        stuck.unlink()
        created = create_job(gw.scan_url, ticket(dpi=75, region=(0, 0, 1000, 1000)))
        assert created.status == 200
        assert retrieve(gw.scan_url, *job_of(created)).status == 200
        log = gw.log()
    assert "the scanner sent nothing for over 2 s" in log and "Traceback" not in log


def test_a_scanner_that_ignores_the_cancel_too_is_given_up_and_used_again_once_it_answers(tmp_path):
    stuck = tmp_path / "stuck"
    with stuck_gateway(tmp_path / "gw", stuck) as gw:
        stuck.write_text("forever")
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="dib", color="RGB24", dpi=300)))
        assert scan_is_cut_off(gw.scan_url, job_id, token) < 10
        deadline = time.monotonic() + 15
        while job_state(gw.scan_url, job_id)[0] != "Aborted" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job_state(gw.scan_url, job_id) == ("Aborted", ["ScannerStopped"])
        stuck.unlink()
        deadline = time.monotonic() + 15
        while (created := create_job(gw.scan_url, ticket(dpi=75, region=(0, 0, 1000, 1000)))).status != 200:
            assert time.monotonic() < deadline, created.body
            time.sleep(0.2)
        assert retrieve(gw.scan_url, *job_of(created)).status == 200
        log = gw.log()
    assert "does not answer, not even a cancel" in log and "Traceback" not in log


def test_a_hanging_scanner_leaves_the_other_scanner_scanning(tmp_path):
    stuck = tmp_path / "stuck"
    with stuck_gateway(tmp_path / "gw", stuck, timeout=4) as gw:
        urls = {name: f"http://{gw.host}:{gw.port}/{gw.uuids[name]}/scan" for name in ("test:0", "test:1")}
        stuck.write_text("until-cancel test:0")
        hanging = job_of(create_job(urls["test:0"], ticket(fmt="dib", color="RGB24", dpi=300)))
        cut_off = []
        waiter = threading.Thread(target=lambda: cut_off.append(scan_is_cut_off(urls["test:0"], *hanging)))
        waiter.start()
        time.sleep(1)
        other = job_of(create_job(urls["test:1"], ticket(dpi=75, region=(0, 0, 1000, 1000))))
        assert retrieve(urls["test:1"], *other).status == 200
        assert job_state(urls["test:0"], hanging[0])[0] == "Processing"
        waiter.join(15)
        assert cut_off and cut_off[0] < 10
