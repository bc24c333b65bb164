"""The real ``sane-wsd-gateway`` process as a person meets it on the command line: a pipe closed early, a port
in use, a state directory that cannot be written, an interface that does not exist, systemd's notify socket
and the journal's stream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from gateway.exits import ExitStatus
from tests.support.gateway_process import ROOT, GatewayProcess, free_port

WAIT = 30


def gateway_argv(command: str, state: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "gateway", command, "--config", str(ROOT / "etc" / "sane-wsd-gateway.conf"),
            "--state-dir", str(state), "--backend", "test", "--test-device", "yes", *more]


def run_gateway(*argv: str, timeout: float = WAIT) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_list_into_a_pipe_closed_before_it_writes_exits_0_quietly(tmp_path):
    proc = subprocess.Popen(gateway_argv("list", tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    proc.stdout.close()  # the reader is gone before the first line: every write is EPIPE
    try:
        returncode = proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        pytest.fail("list did not exit after its reader went away")
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert (returncode, stderr) == (ExitStatus.OK, "")


def test_list_piped_into_head_prints_one_line_and_exits(tmp_path):
    shell = " ".join(f"'{a}'" for a in gateway_argv("list", tmp_path)) + " | head -1; echo \"${PIPESTATUS[0]}\""
    r = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=WAIT, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True)
    first, status = r.stdout.splitlines()
    assert first.startswith("Noname frontend-tester") and status == "0" and r.stderr == ""


def test_list_ends_on_sigterm_while_it_opens_the_scanners(tmp_path):
    proc = subprocess.Popen(gateway_argv("list", tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail("list ignored SIGTERM")


def test_list_shows_urls_on_real_addresses_not_a_placeholder(tmp_path):
    r = run_gateway(*gateway_argv("list", tmp_path, "--interface", "lo"))
    assert r.returncode == ExitStatus.OK, r.stderr
    assert "HOST" not in r.stdout
    assert "URL:         http://127.0.0.1:8765/" in r.stdout and "/scan (lo)" in r.stdout


def test_an_interface_that_does_not_exist_stops_the_start_naming_those_there_are(tmp_path):
    r = run_gateway(*gateway_argv("run", tmp_path, "--interface", "nosuch0", "--no-discovery"))
    assert r.returncode == ExitStatus.NO_SUCH_INTERFACE, r.stdout + r.stderr
    assert "no network interface nosuch0" in r.stdout and "lo" in r.stdout.split("it has", 1)[1]
    assert "Traceback" not in r.stdout + r.stderr


def run_on_a_port_in_use(tmp_path):
    """The gateway's run, on a port another program listens on (IPv6 and IPv4)."""
    with socket.socket(socket.AF_INET6) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        taken.bind(("::", 0))
        taken.listen()
        port = taken.getsockname()[1]
        return port, run_gateway(*gateway_argv("run", tmp_path, "--port", str(port), "--no-discovery"))


def test_a_port_in_use_is_one_line_and_its_exit_status(tmp_path):
    port, r = run_on_a_port_in_use(tmp_path)
    assert r.returncode == ExitStatus.CANNOT_LISTEN, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    [line] = [line for line in r.stdout.splitlines() if "cannot start" in line]
    assert f"TCP port {port} is in use by another program" in line


def test_a_port_in_use_is_refused_before_any_scanner_is_opened(tmp_path):
    _port, r = run_on_a_port_in_use(tmp_path)
    assert r.returncode == ExitStatus.CANNOT_LISTEN, r.stdout + r.stderr
    assert "serving test:0" not in r.stdout + r.stderr


def test_a_state_directory_that_cannot_be_written_is_one_line_and_its_exit_status(tmp_path):
    (tmp_path / "a-file").write_text("")
    r = run_gateway(*gateway_argv("run", tmp_path / "a-file" / "state", "--port", str(free_port()),
                                  "--no-discovery"))
    assert r.returncode == ExitStatus.STATE_DIR, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    [line] = [line for line in r.stdout.splitlines() if "cannot start" in line]
    assert str(tmp_path / "a-file" / "state") in line


def test_a_config_mistake_names_file_and_line_and_exits_2(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nprot = 9000\n")
    r = run_gateway(sys.executable, "-m", "gateway", "run", "--config", str(conf))
    assert r.returncode == ExitStatus.USAGE
    assert r.stderr == f"sane-wsd-gateway: {conf}:2: unknown key 'prot' in [gateway] (did you mean port?)\n"


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A real AF_UNIX datagram socket standing in for systemd's, named by NOTIFY_SOCKET."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        s.settimeout(WAIT)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield s


def test_systemd_hears_ready_once_the_gateway_serves(tmp_path, notify_socket):
    with GatewayProcess(tmp_path) as gw:
        assert notify_socket.recv(4096) == b"READY=1"
        gw.get("/")  # it was serving when it said so
        assert "scanner(s) on port" in gw.log()


def test_systemd_hears_stopping_on_sigterm(tmp_path, notify_socket):
    with GatewayProcess(tmp_path) as gw:
        assert notify_socket.recv(4096) == b"READY=1"
        assert gw.stop() == ExitStatus.OK
    assert notify_socket.recv(4096) == b"STOPPING=1"


def test_under_the_journal_each_line_carries_its_priority(tmp_path, monkeypatch):
    log = tmp_path / "gateway.log"
    log.write_text("")  # the process's standard output keeps this inode: it is "the journal's stream"
    found = os.stat(log)
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    with GatewayProcess(tmp_path) as gw:
        lines = gw.log().splitlines()
    assert lines and all(line[:3] in ("<2>", "<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert any(line.startswith("<6>[gateway.app#info] sane-wsd-gateway") for line in lines)
    assert not any(line[3:7].isdigit() for line in lines)  # no time stamp: the journal has its own


def test_outside_the_journal_lines_are_plain_and_time_stamped(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        first = gw.log().splitlines()[0]
    assert not first.startswith("<") and first[:4].isdigit()


def test_the_start_log_prints_each_url_a_pc_uses(tmp_path):
    with GatewayProcess(tmp_path, extra_args=["--interface", "lo"]) as gw:
        deadline = time.monotonic() + WAIT
        while "device address" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = gw.log()
    assert f"status page: http://127.0.0.1:{gw.port}/ (lo)" in log
    assert f"device address http://127.0.0.1:{gw.port}/{gw.uuid} (lo)" in log


def test_a_browsers_favicon_request_stays_out_of_the_access_log(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        gw.get("/favicon.ico")
        with pytest.raises(urllib.error.HTTPError):
            gw.get("/no-such-page")
        deadline = time.monotonic() + 5
        while "GET /no-such-page" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.05)  # the access log line is written as the answer goes out
        log = gw.log()
    assert "GET /no-such-page" in log and "favicon.ico" not in log


def test_a_reload_with_a_mistake_names_the_line_and_keeps_serving(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        conf = tmp_path / "gateway.conf"
        conf.write_text(conf.read_text() + "locaton = Hall\n")
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while "not reloaded" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        line = next(line for line in gw.log().splitlines() if "not reloaded" in line)
        assert line.endswith(f"configuration not reloaded: {conf}:3: unknown key 'locaton' in [gateway] "
                             "(did you mean location?)")
        assert gw.get("/")


def test_systemd_hears_reloading_then_ready_around_a_good_reload(tmp_path, notify_socket):
    with GatewayProcess(tmp_path) as gw:
        assert notify_socket.recv(4096) == b"READY=1"
        gw.proc.send_signal(signal.SIGHUP)
        assert (notify_socket.recv(4096), notify_socket.recv(4096)) == (b"RELOADING=1", b"READY=1")
        assert "configuration reloaded" in gw.log()
