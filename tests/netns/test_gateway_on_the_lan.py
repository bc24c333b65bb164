"""The whole gateway on a "pi", found and used from a "pc" by clients nobody here wrote."""

import json
import shutil

import pytest

from netns import PYTHON, REPO, LineWatcher, private_system_bus
from tests.support.airscan import SCAN_TIMEOUT
from tests.support.gateway_process import GatewayProcess

pytestmark = [pytest.mark.netns, pytest.mark.skipif(
    not (shutil.which("airscan-discover") and shutil.which("scanimage") and shutil.which("dbus-daemon")),
    reason="needs sane-airscan, sane-utils and dbus-daemon")]

CLIENT = str(REPO / "tests" / "netns" / "wsd_probe.py")
SINK = str(REPO / "tests" / "support" / "event_sink.py")
SUBSCRIBE_AND_SCAN = """
import sys
from tests.support.sinks import subscribe
from tests.support.soap_client import create_job, job_of, retrieve, ticket
scan_url, sink_url = sys.argv[1:]
assert subscribe(scan_url, sink_url, ("JobStatusEvent",), end_to=sink_url + "/end").status == 200
job_id, token = job_of(create_job(scan_url, ticket(dpi=75, region=(0, 0, 1000, 1000))))
assert retrieve(scan_url, job_id, token).status == 200
print("scanned")
"""


def gateway_on_pi(lab, workdir):
    # eSCL off: sane-airscan hides a WSD scanner whose address also serves eSCL, and these tests are WSD's
    # (tests/netns/test_escl_on_the_lan.py has the eSCL ones).
    return GatewayProcess(workdir, wrapper=["ip", "netns", "exec", lab.pi], discovery=True, host=lab.pi_addr,
                          extra_args=["--interface", lab.pi_if], config="escl = no\n")


def discovering_client(workdir):
    """sane-airscan with WS-Discovery on and nothing configured by hand."""
    cfg = workdir / "airscan-discovering"
    cfg.mkdir()
    (cfg / "dll.conf").write_text("airscan\n")
    (cfg / "airscan.conf").write_text("[devices]\n[options]\ndiscovery = enable\nws-discovery = full\n")
    return cfg


def test_airscan_discover_lists_the_scanner_with_its_url(lab, tmp_path):
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        with private_system_bus(lab, lab.pc, tmp_path) as env:
            done = lab.run_in(lab.pc, ["airscan-discover"], env=env, timeout=60, check=False)
    assert f"http://{lab.pi_addr}:{gw.port}/{gw.uuid}/scan" in done.stdout, done.stdout + done.stderr
    assert "WSD" in done.stdout


def test_scanimage_finds_the_scanner_by_discovery_and_scans_through_it(lab, tmp_path):
    cfg = discovering_client(tmp_path)
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        with private_system_bus(lab, lab.pc, tmp_path) as env:
            env = dict(env, SANE_CONFIG_DIR=str(cfg))
            listed = lab.run_in(lab.pc, ["scanimage", "-L"], env=env, timeout=SCAN_TIMEOUT, check=False)
            names = [line.split("`")[1].split("'")[0] for line in listed.stdout.splitlines() if "`airscan:" in line]
            assert names and all(n.startswith("airscan:w") for n in names), listed.stdout + listed.stderr[-2000:]
            out = tmp_path / "found.png"
            scanned = lab.run_in(lab.pc, ["scanimage", "-d", names[0], "--mode", "Gray", "--resolution", "75",
                                          "-x", "50", "-y", "50", "--format=png", "-o", str(out)],
                                 env=env, timeout=SCAN_TIMEOUT, check=False)
        assert scanned.returncode == 0, scanned.stderr[-3000:]
    from PIL import Image
    assert Image.open(out).size == (148, 148)
    assert f"{lab.pi_addr}" in gw.log() or "created on" in gw.log()


def test_a_hello_is_heard_on_start_and_a_bye_on_stop(lab, tmp_path):
    listener = lab.popen_in(lab.pc, [PYTHON, CLIENT, "listen", "--source", lab.pc_addr, "--wait", "60",
                                     "--until-action", "Bye"])
    heard = LineWatcher(listener.stdout)
    assert heard.wait_for(lambda lines: any("listening" in l for l in lines), timeout=10)
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        assert heard.wait_for(lambda lines: any('"Hello"' in l for l in lines), timeout=15)
        gw.stop()
    assert heard.wait_for(lambda lines: any('"Bye"' in l for l in lines), timeout=15)
    messages = [json.loads(line) for line in heard.lines if line.startswith('{"from"')]
    hello = next(m for m in messages if m.get("action") == "Hello")
    bye = next(m for m in messages if m.get("action") == "Bye")
    assert hello["endpoints"] == bye["endpoints"] == [f"urn:uuid:{gw.uuid}"]
    assert hello["xaddrs"] == [f"http://{lab.pi_addr}:{gw.port}/{gw.uuid}"]


def test_two_gateways_on_one_host_both_answer_a_probe(lab, tmp_path):
    with gateway_on_pi(lab, tmp_path / "one") as one, gateway_on_pi(lab, tmp_path / "two") as two:
        done = lab.run_in(lab.pc, [PYTHON, CLIENT, "probe", "--source", lab.pc_addr, "--wait", "3"], timeout=30)
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"from"')]
    endpoints = {e for m in answers if m.get("action") == "ProbeMatches" for e in m["endpoints"]}
    served = {f"urn:uuid:{u}" for gw in (one, two) for u in gw.uuids.values()}
    assert len(served) == 4 and endpoints == served  # test:0 and test:1 on each


def test_sigterm_after_a_scan_ends_subscriptions_says_bye_and_exits_0(lab, tmp_path):
    listener = lab.popen_in(lab.pc, [PYTHON, CLIENT, "listen", "--source", lab.pc_addr, "--wait", "90",
                                     "--until-action", "Bye"])
    heard = LineWatcher(listener.stdout)
    assert heard.wait_for(lambda lines: any("listening" in l for l in lines), timeout=10)
    sink = lab.popen_in(lab.pc, [PYTHON, SINK, "--host", lab.pc_addr, "--port", "8790"])
    sunk = LineWatcher(sink.stdout)
    assert sunk.wait_for(lambda lines: any('"ready"' in l for l in lines), timeout=10)
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        assert heard.wait_for(lambda lines: any('"Hello"' in l for l in lines), timeout=15)
        done = lab.run_in(lab.pc, [PYTHON, "-c", SUBSCRIBE_AND_SCAN, gw.scan_url, f"http://{lab.pc_addr}:8790/sink"],
                          timeout=60, check=False, cwd=str(REPO))
        assert "scanned" in done.stdout, done.stderr[-3000:]
        status = gw.stop()
    assert status == 0, gw.log()[-3000:]
    assert heard.wait_for(lambda lines: any('"Bye"' in l for l in lines), timeout=15)
    assert sunk.wait_for(lambda lines: any("SubscriptionEnd" in l for l in lines), timeout=10)
