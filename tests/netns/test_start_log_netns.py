"""What the gateway tells a person about its addresses, on a "pi" whose addresses the test chose: the URLs in
the start log and in ``list``, and an interface that has no address yet."""

import time

import pytest

from netns import PYTHON, REPO
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.netns

WAIT = 30


def wait_for(gw, text: str) -> str:
    deadline = time.monotonic() + WAIT
    while text not in gw.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    return gw.log()


def test_the_start_log_names_the_status_page_and_device_urls_on_the_pis_address(lab, tmp_path):
    with GatewayProcess(tmp_path, wrapper=["ip", "netns", "exec", lab.pi], host=lab.pi_addr) as gw:
        log = wait_for(gw, "device address")
    assert f"status page: http://{lab.pi_addr}:{gw.port}/ ({lab.pi_if})" in log
    assert f"device address http://{lab.pi_addr}:{gw.port}/{gw.uuid} ({lab.pi_if})" in log


def test_list_prints_the_scan_url_on_the_pis_address(lab, tmp_path):
    done = lab.run_in(lab.pi, [PYTHON, "-m", "gateway", "list", "--config", str(REPO / "etc" / "sane-wsd-gateway.conf"),
                               "--state-dir", str(tmp_path), "--backend", "test", "--test-device", "yes"],
                      timeout=WAIT, cwd=REPO)
    assert f"URL:         http://{lab.pi_addr}:8765/" in done.stdout and f"/scan ({lab.pi_if})" in done.stdout
    assert f"Status page: http://{lab.pi_addr}:8765/" in done.stdout


def test_an_interface_without_an_address_is_a_loud_warning_and_not_a_failure(lab, tmp_path):
    lab.ip(lab.pi, "link", "add", "wlan0", "type", "veth", "peer", "name", "wlan0-peer")  # down: no address
    with GatewayProcess(tmp_path, wrapper=["ip", "netns", "exec", lab.pi], host=lab.pi_addr,
                        extra_args=["--interface", "wlan0"]) as gw:
        log = wait_for(gw, "no network address")
    assert "[gateway.cli#warn] interface wlan0 has no address (or is down)" in log
    assert "[gateway.cli#warn] no network address on wlan0 yet" in log


def test_an_interface_that_is_not_there_names_the_pis_interfaces(lab, tmp_path):
    done = lab.run_in(lab.pi, [PYTHON, "-m", "gateway", "run", "--config", str(REPO / "etc" / "sane-wsd-gateway.conf"),
                               "--state-dir", str(tmp_path), "--backend", "test", "--test-device", "yes",
                               "--interface", "end0"], timeout=WAIT, cwd=REPO, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"no network interface end0 on this machine; it has lo, {lab.pi_if} (" in done.stdout
