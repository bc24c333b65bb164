"""Scanners and addresses that come and go while the real gateway runs on a "pi", seen from a "pc".

The scanner: SANE's test backend, its ``number_of_devices`` changed in the
gateway's private SANE config, and the USB event that makes the gateway look
again sent the way udevd broadcasts one, inside the pi's namespace
(tests/support/uevents.py: the one fake, at the OS boundary; the gateway's
``usb_hotplug = udev`` reads it through pyudev as it would read udevd's).
Observed by a WS-Discovery listener, an event sink and sane-airscan on the pc.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from netns import PYTHON, REPO, LineWatcher, python_env

from tests.support.gateway_process import GatewayProcess
from tests.support.uevents import usb_device_properties

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not shutil.which("scanimage"), reason="needs sane-utils")]

CLIENT = str(REPO / "tests" / "netns" / "wsd_probe.py")
SINK = str(REPO / "tests" / "support" / "event_sink.py")
SENDER = str(REPO / "tests" / "support" / "uevents.py")
SCAN_TIMEOUT = 60
STATUS_PAGE = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
ASK_ELEMENTS = """
import sys
from tests.support.soap_client import call, el
reply = call(sys.argv[1], "GetScannerElements", el("GetScannerElementsRequest"))
print(reply.status, reply.fault_subcode, reply.text(".//s:Fault/s:Reason/s:Text"))
"""
SUBSCRIBE = """
import sys
from tests.support.sinks import subscribe
scan_url, sink_url = sys.argv[1:]
print(subscribe(scan_url, sink_url, ("JobStatusEvent",), end_to=sink_url + "/end").status)
"""


def hotplug_gateway(lab, workdir, devices: int) -> GatewayProcess:
    return GatewayProcess(workdir, test_conf=f"geometry_max 300.0\nnumber_of_devices {devices}\n",
                          wrapper=["ip", "netns", "exec", lab.pi], discovery=True, host=lab.pi_addr,
                          extra_args=["--interface", lab.pi_if], config="usb_hotplug = udev\n")


def set_test_devices(gw: GatewayProcess, n: int) -> None:
    (gw.state / "sane.d" / "test.conf").write_text(f"geometry_max 300.0\nnumber_of_devices {n}\n")


def usb_event(lab, action: str, port: str = "1-1.2") -> None:
    props = usb_device_properties(action, port)
    lab.run_in(lab.pi, [PYTHON, SENDER, *(f"{k}={v}" for k, v in props.items())], timeout=10)


def uuid_of(gw: GatewayProcess, device: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        devices = json.loads((gw.state / "devices.json").read_text())
        if f"sane:{device}" in devices:
            return devices[f"sane:{device}"]
        time.sleep(0.1)
    raise AssertionError(f"{device} got no UUID:\n{gw.log()[-3000:]}")


class Listener:
    """A WS-Discovery listener on the pc: every Hello and Bye it hears (IPv6: source ADDRESS%INTERFACE)."""

    def __init__(self, lab, wait: float = 90, source: str | None = None):
        self.proc = lab.popen_in(lab.pc, [PYTHON, CLIENT, "listen", "--source", source or lab.pc_addr,
                                          "--wait", str(wait)])
        self.heard = LineWatcher(self.proc.stdout)
        assert self.heard.wait_for(lambda lines: any("listening" in line for line in lines), timeout=10)

    def messages(self):
        return [json.loads(line) for line in self.heard.lines if line.startswith('{"from"')]

    def wait(self, action: str, endpoint: str, timeout: float) -> dict | None:
        found = []

        def done(_lines):
            found[:] = [m for m in self.messages() if m.get("action") == action and endpoint in m.get("endpoints", ())]
            return bool(found)
        self.heard.wait_for(done, timeout=timeout)
        return found[0] if found else None


def scan_on_pc(lab, workdir, scan_url: str):
    cfg = workdir / "airscan"
    cfg.mkdir(exist_ok=True)
    (cfg / "dll.conf").write_text("airscan\n")
    (cfg / "airscan.conf").write_text(f'[devices]\n"Gateway" = {scan_url}, wsd\n'
                                      "[options]\ndiscovery = disable\nws-discovery = off\n")
    out = workdir / "scan.png"
    started = time.monotonic()
    done = lab.run_in(lab.pc, ["scanimage", "-d", "airscan:w0:Gateway", "--mode", "Gray", "--resolution", "75",
                               "-x", "20", "-y", "20", "--format=png", "-o", str(out)],
                      env=python_env({"SANE_CONFIG_DIR": str(cfg)}), timeout=SCAN_TIMEOUT, check=False)
    return done, time.monotonic() - started


def test_a_scanner_plugged_in_is_announced_with_a_hello_and_scans(lab, tmp_path):
    listener = Listener(lab)
    with hotplug_gateway(lab, tmp_path / "gw", devices=1) as gw:
        assert listener.wait("Hello", f"urn:uuid:{gw.uuid}", timeout=15)
        set_test_devices(gw, 2)
        plugged = time.monotonic()
        usb_event(lab, "add")
        usb_event(lab, "bind")
        new = uuid_of(gw, "test:1")
        hello = listener.wait("Hello", f"urn:uuid:{new}", timeout=15)
        assert hello, gw.log()[-3000:]
        served_in = time.monotonic() - plugged
        assert hello["xaddrs"] == [f"http://{lab.pi_addr}:{gw.port}/{new}"]
        done, _took = scan_on_pc(lab, tmp_path, f"http://{lab.pi_addr}:{gw.port}/{new}/scan")
        assert done.returncode == 0, done.stderr[-3000:] + gw.log()[-3000:]
        page = lab.run_in(lab.pc, [PYTHON, "-c", STATUS_PAGE, f"http://{lab.pi_addr}:{gw.port}/"], timeout=30)
        assert f"urn:uuid:{new}" in page.stdout, "the status page lists the new scanner"
    assert served_in < 10, f"served {served_in:.1f} s after the plug event"
    assert "USB scanner plugged in" in gw.log()


def test_a_scanner_unplugged_says_bye_ends_subscriptions_and_its_url_answers_an_error(lab, tmp_path):
    listener = Listener(lab)
    sink = lab.popen_in(lab.pc, [PYTHON, SINK, "--host", lab.pc_addr, "--port", "8791"])
    sunk = LineWatcher(sink.stdout)
    assert sunk.wait_for(lambda lines: any('"ready"' in line for line in lines), timeout=10)
    with hotplug_gateway(lab, tmp_path / "gw", devices=2) as gw:
        gone = uuid_of(gw, "test:1")
        assert listener.wait("Hello", f"urn:uuid:{gone}", timeout=15)
        scan_url = f"http://{lab.pi_addr}:{gw.port}/{gone}/scan"
        subscribed = lab.run_in(lab.pc, [PYTHON, "-c", SUBSCRIBE, scan_url, f"http://{lab.pc_addr}:8791/sink"],
                                timeout=30, check=False, cwd=str(REPO))
        assert subscribed.stdout.strip() == "200", subscribed.stderr[-2000:]
        set_test_devices(gw, 1)
        usb_event(lab, "add")
        usb_event(lab, "remove")
        assert listener.wait("Bye", f"urn:uuid:{gone}", timeout=15), gw.log()[-3000:]
        assert sunk.wait_for(lambda lines: any("SubscriptionEnd" in line and "SourceShuttingDown" in line
                                               for line in lines), timeout=10), gw.log()[-3000:]
        done, took = scan_on_pc(lab, tmp_path, scan_url)
        assert done.returncode != 0 and took < SCAN_TIMEOUT
        asked = lab.run_in(lab.pc, [PYTHON, "-c", ASK_ELEMENTS, scan_url], timeout=30, check=False, cwd=str(REPO))
        assert "DestinationUnreachable" in asked.stdout and "no longer served" in asked.stdout, asked.stderr
        kept, _took = scan_on_pc(lab, tmp_path, f"http://{lab.pi_addr}:{gw.port}/{gw.uuid}/scan")
        assert kept.returncode == 0, "test:0 is still served, and opens after SANE started over: " + \
            kept.stderr[-2000:]
        assert "Traceback" not in gw.log()


def test_an_address_added_gets_a_hello_within_2_s_and_a_removed_one_is_no_longer_answered(lab, tmp_path):
    listener = Listener(lab)
    with hotplug_gateway(lab, tmp_path / "gw", devices=1) as gw:
        assert listener.wait("Hello", f"urn:uuid:{gw.uuid}", timeout=15)
        assert "watching network interfaces and addresses through netlink" in gw.log()
        new_addr = f"{lab.subnet}.7"
        added = time.monotonic()
        lab.ip(lab.pi, "addr", "add", f"{new_addr}/{lab.prefixlen}", "dev", lab.pi_if)

        def with_new(_lines):
            return any(m.get("action") == "Hello" and f"http://{new_addr}:{gw.port}/{gw.uuid}" in m.get("xaddrs", ())
                       for m in listener.messages())
        assert listener.heard.wait_for(with_new, timeout=5), gw.log()[-2000:]
        assert time.monotonic() - added < 2.0
        lab.ip(lab.pi, "addr", "del", f"{new_addr}/{lab.prefixlen}", "dev", lab.pi_if)
        time.sleep(1.0)
        probe = lab.run_in(lab.pc, [PYTHON, CLIENT, "probe", "--source", lab.pc_addr, "--wait", "2"], timeout=30)
        answers = [json.loads(line) for line in probe.stdout.splitlines() if line.startswith('{"from"')]
        xaddrs = {x for m in answers if m.get("action") == "ProbeMatches" for x in m.get("xaddrs", ())}
        assert xaddrs == {f"http://{lab.pi_addr}:{gw.port}/{gw.uuid}"}, probe.stdout
    assert f"Stopped announcing on {lab.pi_if} {new_addr}" in gw.log()


UNPLUG_GATEWAY = str(REPO / "tests" / "support" / "unplug_gateway.py")
SLOW_TWO = "geometry_max 300.0\nnumber_of_devices 2\nread-delay true\nread-delay-duration 300000\n"
SCAN_BOTH = """
import json, sys, threading, time
from tests.support.soap_client import create_job, job_of, open_retrieve, ticket
urls = dict(zip(("test:0", "test:1"), sys.argv[1:3]))
results, started = {}, threading.Barrier(3)
def scan(device, url):
    job_id, token = job_of(create_job(url, ticket(fmt="png", color="Grayscale8", dpi=100)))
    conn, response = open_retrieve(url, job_id, token, timeout=60)
    started.wait()
    got, error = 0, None
    try:
        while chunk := response.read(65536):
            got += len(chunk)
    except Exception as e:
        error = repr(e)
    results[device] = {"status": response.status, "bytes": got, "error": error, "ended": time.time()}
threads = [threading.Thread(target=scan, args=item) for item in urls.items()]
for t in threads:
    t.start()
started.wait()
print(json.dumps({"started": time.time()}), flush=True)
for t in threads:
    t.join(90)
print(json.dumps(results), flush=True)
"""


def test_a_scanner_pulled_out_mid_scan_ends_its_job_at_once_and_the_other_scan_completes(lab, tmp_path, monkeypatch):
    switch = tmp_path / "unplugged"
    monkeypatch.setenv("SANE_WSD_TEST_UNPLUGGED", str(switch))
    gw = GatewayProcess(tmp_path / "gw", test_conf=SLOW_TWO, entry=[PYTHON, UNPLUG_GATEWAY],
                        wrapper=["ip", "netns", "exec", lab.pi], discovery=True, host=lab.pi_addr,
                        extra_args=["--interface", lab.pi_if], config="usb_hotplug = udev\n")
    with gw:
        url = {d: f"http://{lab.pi_addr}:{gw.port}/{gw.uuids[d]}/scan" for d in ("test:0", "test:1")}
        client = lab.popen_in(lab.pc, [PYTHON, "-c", SCAN_BOTH, url["test:0"], url["test:1"]], cwd=str(REPO))
        out = LineWatcher(client.stdout)
        assert out.wait_for(lambda lines: any('"started"' in line for line in lines), timeout=30), gw.log()[-3000:]
        switch.write_text("test:1")
        set_test_devices(gw, 1)
        pulled = time.time()
        usb_event(lab, "remove", port="1-1.2")
        assert out.wait_for(lambda lines: any('"test:0"' in line for line in lines), timeout=60), gw.log()[-3000:]
        results = json.loads(next(line for line in out.lines if '"test:0"' in line))
        log = gw.log()
    gone, other = results["test:1"], results["test:0"]
    assert gone["error"] is not None and gone["ended"] - pulled < 5, (gone, log[-3000:])
    assert other["status"] == 200 and other["error"] is None and other["bytes"] > 1000, (other, log[-3000:])
    assert "ended: Aborted (scanner removed)" in log, log[-3000:]
    assert "rescan held until" in log


def test_an_ipv6_address_added_gets_a_hello_with_its_own_url_within_2_s(lab, tmp_path):
    pc_ll = lab.link_local(lab.pc, lab.pc_if)
    listener = Listener(lab, source=f"{pc_ll}%{lab.pc_if}")
    with hotplug_gateway(lab, tmp_path / "gw", devices=1) as gw:
        assert listener.wait("Hello", f"urn:uuid:{gw.uuid}", timeout=15), gw.log()[-2000:]
        added = time.monotonic()
        lab.ip(lab.pi, "-6", "addr", "add", "fd00:213::7/64", "dev", lab.pi_if)  # DAD is off in the lab
        url = f"http://[fd00:213::7]:{gw.port}/{gw.uuid}"

        def with_new(_lines):
            return any(m.get("action") == "Hello" and url in m.get("xaddrs", ()) for m in listener.messages())
        assert listener.heard.wait_for(with_new, timeout=5), gw.log()[-2000:]
        assert time.monotonic() - added < 2.0
