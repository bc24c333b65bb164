"""The status page of a gateway on a "pi", read from a "pc": what it saw of that PC on the real interface."""

import json

from netns import PYTHON, REPO
from tests.support.gateway_process import GatewayProcess

import pytest

pytestmark = pytest.mark.netns

CLIENT = str(REPO / "tests" / "netns" / "wsd_probe.py")
HTTP_GET = """
import sys, urllib.request, urllib.error
url, source = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
import http.client
from urllib.parse import urlsplit
parts = urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15,
                                  source_address=(source, 0) if source else None)
conn.request("GET", parts.path)
r = conn.getresponse()
print(r.status)
print(r.read().decode())
"""
METADATA_GET = """
import sys
from tests.support.soap_client import envelope, post
url, to = sys.argv[1:]
print(post(url, envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", None, to=to)).status)
"""


def gateway_on_pi(lab, workdir):
    return GatewayProcess(workdir, wrapper=["ip", "netns", "exec", lab.pi], discovery=True, host=lab.pi_addr,
                          extra_args=["--interface", lab.pi_if])


def get_from_pc(lab, gw, path: str, source: str | None = None) -> tuple[int, str]:
    done = lab.run_in(lab.pc, [PYTHON, "-c", HTTP_GET, f"http://{lab.pi_addr}:{gw.port}{path}",
                               *([source] if source else [])], timeout=30, cwd=str(REPO))
    status, _, body = done.stdout.partition("\n")
    return int(status), body


def test_the_page_shows_the_pis_interface_the_pcs_probe_and_its_metadata_read(lab, tmp_path):
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        lab.run_in(lab.pc, [PYTHON, CLIENT, "probe", "--source", lab.pc_addr, "--wait", "1"], timeout=30)
        read = lab.run_in(lab.pc, [PYTHON, "-c", METADATA_GET, gw.url, f"urn:uuid:{gw.uuid}"], timeout=30,
                          cwd=str(REPO))
        assert read.stdout.strip() == "200", read.stderr[-2000:]
        status, body = get_from_pc(lab, gw, "/status.json")
    assert status == 200
    state = json.loads(body)
    [interface] = state["interfaces"]
    assert interface["name"] == lab.pi_if and lab.pi_addr in interface["addresses"]
    assert interface["last_probe"]["peer"] == lab.pc_addr
    [scanner] = [s for s in state["scanners"] if s["uuid"] == gw.uuid]
    assert scanner["last_metadata_fetch"]["peer"] == lab.pc_addr
    assert not any(lab.pi_if in line and "No PC has looked" in line for line in state["checklist"])


def test_a_client_from_another_subnet_is_refused_and_the_page_says_to_set_allowed_networks(lab, tmp_path):
    off_link = "10.99.0.7"
    lab.ip(lab.pc, "addr", "add", f"{off_link}/32", "dev", lab.pc_if)
    lab.ip(lab.pi, "route", "add", f"{off_link}/32", "dev", lab.pi_if)
    with gateway_on_pi(lab, tmp_path / "gw") as gw:
        refused, _body = get_from_pc(lab, gw, "/", source=off_link)
        status, body = get_from_pc(lab, gw, "/status.json")
    assert (refused, status) == (403, 200)
    state = json.loads(body)
    [refusal] = state["refused"]
    assert refusal["peer"] == off_link and refusal["local"] == lab.pi_addr
    assert any(off_link in line and "allowed_networks" in line for line in state["checklist"])
