"""What another PC on the LAN may and may not make the gateway do: a real "pc" and "pi" in namespaces."""

import json
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

import pytest

from netns import PYTHON, REPO
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.netns

CLIENT = str(REPO / "tests" / "netns" / "lan_client.py")
OWN_NAME = "gateway-alias.test"
"""A name the pi's /etc/hosts maps to 127.0.0.1, as Debian maps the machine's own host name."""


@contextmanager
def pi_hosts(lab):
    """/etc/hosts as the pi sees it (``ip netns exec`` mounts /etc/netns/NAME/hosts over it), removed after."""
    directory = Path("/etc/netns") / lab.pi
    directory.mkdir(parents=True)
    try:
        (directory / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {OWN_NAME} {socket.gethostname()}\n"
                                         "::1 localhost ip6-localhost\n")
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def gateway_on_pi(lab, workdir):
    return GatewayProcess(workdir, wrapper=["ip", "netns", "exec", lab.pi], host=lab.pi_addr)


def from_pc(lab, *args) -> dict:
    done = lab.run_in(lab.pc, [PYTHON, CLIENT, *args], timeout=60)
    return json.loads(done.stdout)


@pytest.mark.parametrize("host", ["127.1", "0", "2130706433", "0x7f000001", "0177.0.0.1", "localhost", OWN_NAME,
                                  "HOSTNAME", "[::1]", "[::ffff:127.0.0.1]", "PI"])
def test_a_pc_cannot_have_events_sent_to_the_gateways_own_machine_under_any_spelling(lab, tmp_path, host):
    with pi_hosts(lab), gateway_on_pi(lab, tmp_path) as gw:
        host = {"HOSTNAME": socket.gethostname(), "PI": lab.pi_addr}.get(host, host)
        answer = from_pc(lab, "subscribe", gw.scan_url, f"http://{host}:{gw.port}/push")
        assert answer["status"] == 400 and answer["subcode"] == "wse:EventSourceUnableToProcess", answer
        assert "own machine" in answer["reason"]


def test_a_pc_may_have_events_sent_to_itself(lab, tmp_path):
    with pi_hosts(lab), gateway_on_pi(lab, tmp_path) as gw:
        answer = from_pc(lab, "subscribe", gw.scan_url, f"http://{lab.pc_addr}:5357/sink")
        assert answer["status"] == 200, answer


OTHER_PC = "10.213.0.3"


def test_another_pc_cannot_cancel_a_job_it_did_not_create(lab, tmp_path):
    lab.ip(lab.pc, "addr", "add", f"{OTHER_PC}/24", "dev", lab.pc_if)
    with gateway_on_pi(lab, tmp_path) as gw:
        created = from_pc(lab, "create", gw.scan_url, "--source", lab.pc_addr)
        assert created["status"] == 200, created
        refused = from_pc(lab, "cancel", gw.scan_url, str(created["job_id"]), "--source", OTHER_PC)
        assert (refused["status"], refused["subcode"]) == (400, "wscn:ClientErrorJobIdNotFound"), refused
        own = from_pc(lab, "cancel", gw.scan_url, str(created["job_id"]), "--source", lab.pc_addr)
        assert own["status"] == 200, own  # the refused cancel left the job running


def test_the_gateways_own_machine_may_cancel_any_job(lab, tmp_path):
    with gateway_on_pi(lab, tmp_path) as gw:
        created = from_pc(lab, "create", gw.scan_url)
        local_url = f"http://127.0.0.1:{gw.port}/{gw.uuid}/scan"
        done = lab.run_in(lab.pi, [PYTHON, CLIENT, "cancel", local_url, str(created["job_id"])], timeout=60)
        assert json.loads(done.stdout)["status"] == 200, done.stdout
