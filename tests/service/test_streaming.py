"""The image leaves while the scanner is still scanning; connections are kept alive."""

import http.client
from urllib.parse import urlsplit

import pytest

from gateway.wsd import namespaces as ns
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, create_job, el, envelope, job_of, ticket

SLOW = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"


@pytest.fixture(scope="module")
def slow_gateway(tmp_path_factory):
    with GatewayProcess(tmp_path_factory.mktemp("slow"), test_conf=SLOW) as gw:
        yield gw


def test_image_bytes_arrive_while_the_job_is_still_scanning(slow_gateway):
    gw = slow_gateway
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=300,
                                                         region=(0, 0, 8000, 11000))))
    parts = urlsplit(gw.scan_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = el("RetrieveImageRequest", el("JobId", text=job_id), el("JobToken", text=token))
    conn.request("POST", parts.path, body=envelope(ns.scan_action("RetrieveImage"), body, gw.scan_url),
                 headers={"Content-Type": "application/soap+xml"})
    response = conn.getresponse()
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
