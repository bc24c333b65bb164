"""No client can hold the gateway's connections: deadlines for requests, a share per address, bounded logs."""

import os
import select
import socket
import subprocess
import time

import pytest

from gateway.connections import BODY_SECONDS, HEAD_SECONDS, IDLE_SECONDS, PER_ADDRESS
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import create_job, job_of, open_retrieve, ticket


def connect(gw, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10, source_address=(source, 0))
    return s


def closed_within(s: socket.socket, seconds: float, trickle: bytes, every: float = 2.0) -> float | None:
    """Send ``trickle`` every ``every`` s until the server closes; seconds it took, or None if it did not."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        readable, _, _ = select.select([s], [], [], every)
        if readable:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                return time.monotonic() - start
            if not data or data.startswith(b"HTTP/1.1 408"):
                return time.monotonic() - start
            continue
        try:
            s.sendall(trickle)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    return None


def test_a_client_sending_a_header_line_every_two_seconds_is_cut_off_at_the_header_deadline(gateway):
    s = connect(gateway)
    s.sendall(b"POST /" + gateway.uuid.encode() + b"/scan HTTP/1.1\r\nHost: x\r\n")
    took = closed_within(s, HEAD_SECONDS + 6, b"X-Slow: yes\r\n")
    s.close()
    assert took is not None, f"still open after {HEAD_SECONDS + 6:.0f} s"
    assert HEAD_SECONDS - 1 <= took <= HEAD_SECONDS + 3


def test_a_body_trickled_in_is_cut_off_at_the_body_deadline(gateway):
    s = connect(gateway)
    s.sendall(b"POST /" + gateway.uuid.encode() + b"/scan HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/soap+xml\r\nContent-Length: 5000\r\n\r\n")
    took = closed_within(s, BODY_SECONDS + 6, b"<")
    s.close()
    assert took is not None, f"still open after {BODY_SECONDS + 6:.0f} s"
    assert BODY_SECONDS - 1 <= took <= BODY_SECONDS + 3


def test_a_slow_client_is_logged_once_per_interval_not_once_per_connection(gateway):
    before = gateway.log().count("took more than")
    sockets = [connect(gateway) for _ in range(5)]
    for s in sockets:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    time.sleep(HEAD_SECONDS + 2)
    for s in sockets:
        s.close()
    assert gateway.log().count("took more than") - before == 1


def test_an_image_transfer_paused_longer_than_every_deadline_is_not_cut(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(fmt="dib", color="RGB24", dpi=300,
                                                               region=(0, 0, 8268, 11693))))
    conn, response = open_retrieve(gateway.scan_url, job_id, token)
    got = len(response.read1(65536))
    time.sleep(max(HEAD_SECONDS, BODY_SECONDS, IDLE_SECONDS) + 2)
    while chunk := response.read1(1 << 20):
        got += len(chunk)
    conn.close()
    assert got > (8268 * 300 // 1000) * 3 * (11693 * 300 // 1000)  # every row of the page arrived


@pytest.fixture
def few_descriptors(tmp_path):
    """A gateway with the descriptor limit of a small systemd service: 256."""
    with GatewayProcess(tmp_path, wrapper=["prlimit", "--nofile=256:256"]) as gw:
        yield gw


def status_page_answers(gw, source: str) -> bool:
    try:
        s = connect(gw, source)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(10)
        return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


def test_idle_connections_from_one_address_leave_room_for_another(few_descriptors):
    gw = few_descriptors
    hogs = []
    try:
        for _ in range(300):
            hogs.append(connect(gw, "127.0.0.2"))
        time.sleep(0.5)
        assert status_page_answers(gw, "127.0.0.3")
        refused = sum(1 for s in hogs if select.select([s], [], [], 0)[0])
        assert refused >= 300 - PER_ADDRESS
    finally:
        for s in hogs:
            s.close()


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def accept_failure_lines(gw) -> int:
    return sum(1 for line in gw.log().splitlines() if "EMFILE" in line or "out of file descriptors" in line)


def test_running_out_of_descriptors_logs_a_few_lines_and_the_gateway_recovers(fresh_gateway):
    gw = fresh_gateway
    limit = open_descriptors(gw.proc.pid) + 12
    subprocess.run(["prlimit", "--pid", str(gw.proc.pid), f"--nofile={limit}:{limit}"], check=True, timeout=10)
    clients = []
    try:
        for i in range(200):
            clients.append(connect(gw, f"127.0.1.{10 + i % 50}"))
            if i % 20 == 0:
                time.sleep(0.05)
        time.sleep(1.0)
        assert 1 <= accept_failure_lines(gw) <= 3, gw.log()[-3000:]
    finally:
        for s in clients:
            s.close()
    time.sleep(0.5)
    assert status_page_answers(gw, "127.0.0.1")
