"""The gateway the web page tests load: discovery on loopback, so that a probe from the test is a real one."""

from __future__ import annotations

import socket

import pytest

from tests.netns.wsd_probe import GROUP4, probe_body, request
from tests.support.gateway_process import GatewayProcess

HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Flatbed & "Co" <script>window.pwned=2</script>'
"""A scanner name as a config file may give it: the page must show it as text."""


def web_gateway(workdir):
    return GatewayProcess(workdir, discovery=True, extra_args=["--interface", "lo"],
                          test_conf='geometry_max 300.0\ntest-picture "Grid"\n',
                          config=f"\n[scanner:test:1]\nname = {HOSTILE_NAME}\n")


@pytest.fixture(scope="module")
def page_gateway(tmp_path_factory):
    with web_gateway(tmp_path_factory.mktemp("web")) as gw:
        yield gw


def send_probe(port: int = 3702) -> None:
    """One WS-Discovery Probe to the group, out of loopback (TTL 1: it never leaves this machine)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.sendto(request("Probe", probe_body([], [])), (GROUP4, port))
    finally:
        sock.close()
