"""Real multicast between two namespaces: the announcer runs in "pi", clients in "pc"."""

import json
import shutil
import signal
import uuid

import pytest

from netns import PYTHON, REPO, LineWatcher, private_system_bus

pytestmark = pytest.mark.netns

ANNOUNCER = str(REPO / "tests" / "netns" / "announcer.py")
CLIENT = str(REPO / "tests" / "netns" / "wsd_probe.py")
DEVICE_TYPE = "{http://schemas.xmlsoap.org/ws/2006/02/devprof}Device"
SCAN_TYPE = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}ScanDeviceType"


def start_announcer(lab, *args, endpoint=None):
    endpoint = endpoint or f"urn:uuid:{uuid.uuid4()}"
    proc = lab.popen_in(lab.pi, [PYTHON, ANNOUNCER, "--interface", lab.pi_if, "--endpoint", endpoint, *args])
    out = LineWatcher(proc.stdout)
    assert out.wait_for(lambda lines: any('"ready"' in l for l in lines), timeout=20), proc.stderr.read()
    return proc, out, endpoint


def client(lab, *args, timeout=30):
    done = lab.run_in(lab.pc, [PYTHON, CLIENT, *args], timeout=timeout)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def matches(messages, action="ProbeMatches"):
    """One entry per distinct answer: the unicast repeats share a MessageID."""
    return list({m["message_id"]: m for m in messages if m.get("action") == action}.values())


def test_probe_from_pc_is_answered_with_the_pi_veth_address_in_xaddrs(lab):
    _, _, endpoint = start_announcer(lab, "--no-ipv6")
    [match] = matches(client(lab, "probe", "--source", lab.pc_addr, "--type", DEVICE_TYPE, "--type", SCAN_TYPE))
    assert match["from"] == lab.pi_addr
    assert match["endpoints"] == [endpoint]
    assert match["xaddrs"] == [f"http://{lab.pi_addr}:8765/{endpoint.rsplit(':', 1)[1]}"]
    assert match["to"] == "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"


def test_the_announcer_binds_no_tcp_port_and_shares_udp_3702(lab):
    start_announcer(lab)
    tcp = lab.run_in(lab.pi, ["cat", "/proc/net/tcp", "/proc/net/tcp6"], timeout=5).stdout
    assert len(tcp.strip().splitlines()) == 2, tcp
    again = start_announcer(lab)
    assert again[0].poll() is None


def test_ipv6_probe_gets_the_link_local_url_in_brackets_without_zone(lab):
    _, _, endpoint = start_announcer(lab)
    pc_ll = lab.link_local(lab.pc, lab.pc_if)
    pi_ll = lab.link_local(lab.pi, lab.pi_if)
    [match] = matches(client(lab, "probe", "--source", f"{pc_ll}%{lab.pc_if}"))
    assert match["from"] == pi_ll
    assert match["xaddrs"] == [f"http://[{pi_ll}]:8765/{endpoint.rsplit(':', 1)[1]}"]


def test_resolve_for_our_endpoint_is_answered_and_for_another_is_not(lab):
    _, _, endpoint = start_announcer(lab, "--no-ipv6")
    [match] = matches(client(lab, "resolve", "--source", lab.pc_addr, "--endpoint", endpoint), "ResolveMatches")
    assert match["endpoints"] == [endpoint] and match["xaddrs"][0].startswith(f"http://{lab.pi_addr}:")
    other = client(lab, "resolve", "--source", lab.pc_addr, "--endpoint", f"urn:uuid:{uuid.uuid4()}")
    assert matches(other, "ResolveMatches") == []


def test_probe_for_a_type_we_are_not_gets_no_answer(lab):
    start_announcer(lab, "--no-ipv6")
    answers = client(lab, "probe", "--source", lab.pc_addr, "--type", "{http://example.org/print}PrinterType")
    assert matches(answers) == []


def test_hello_is_seen_on_start_and_bye_on_sigterm(lab):
    listener = lab.popen_in(lab.pc, [PYTHON, CLIENT, "listen", "--source", lab.pc_addr, "--wait", "30",
                                     "--until-action", "Bye"])
    heard = LineWatcher(listener.stdout)
    assert heard.wait_for(lambda lines: any("listening" in l for l in lines), timeout=10)
    proc, out, endpoint = start_announcer(lab, "--no-ipv6", "--instance-id", "777")
    assert heard.wait_for(lambda lines: any('"Hello"' in l for l in lines), timeout=10)
    proc.send_signal(signal.SIGTERM)
    assert heard.wait_for(lambda lines: any('"Bye"' in l for l in lines), timeout=10)
    assert proc.wait(timeout=10) == 0
    assert any('"stopped"' in l for l in out.lines)
    msgs = [json.loads(l) for l in heard.lines if l.startswith('{"from"')]
    [hello] = matches(msgs, "Hello")
    [bye] = matches(msgs, "Bye")
    assert hello["endpoints"] == bye["endpoints"] == [endpoint]
    assert hello["xaddrs"] == [f"http://{lab.pi_addr}:8765/{endpoint.rsplit(':', 1)[1]}"]
    assert hello["to"] == bye["to"] == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    assert hello["instance_id"] == bye["instance_id"] == "777"
    assert int(bye["message_number"]) > int(hello["message_number"])


def test_a_new_address_is_noticed_and_announced_with_a_hello(lab):
    listener = lab.popen_in(lab.pc, [PYTHON, CLIENT, "listen", "--source", lab.pc_addr, "--wait", "30"])
    heard = LineWatcher(listener.stdout)
    assert heard.wait_for(lambda lines: any("listening" in l for l in lines), timeout=10)
    start_announcer(lab, "--no-ipv6")
    new = f"{lab.subnet}.3"
    lab.ip(lab.pi, "addr", "add", f"{new}/{lab.prefixlen}", "dev", lab.pi_if)
    assert heard.wait_for(lambda lines: any(f"http://{new}:8765/" in l for l in lines), timeout=15)


def off_link_setup(lab):
    """pc gets a second address on a subnet pi does not have; pi can route back to it."""
    lab.ip(lab.pc, "addr", "add", "10.214.0.1/24", "dev", lab.pc_if)
    lab.ip(lab.pi, "route", "add", "10.214.0.0/24", "dev", lab.pi_if)
    return "10.214.0.1"


def test_a_probe_from_off_link_is_not_answered(lab):
    source = off_link_setup(lab)
    start_announcer(lab, "--no-ipv6")
    assert matches(client(lab, "probe", "--source", source)) == []
    assert len(matches(client(lab, "probe", "--source", lab.pc_addr))) == 1


def test_a_probe_from_an_allowed_network_is_answered(lab):
    source = off_link_setup(lab)
    start_announcer(lab, "--no-ipv6", "--allow", "10.214.0.0/24")
    [match] = matches(client(lab, "probe", "--source", source))
    assert match["from"] == lab.pi_addr


def test_a_flood_of_probes_from_one_source_gets_a_bounded_number_of_answers(lab):
    start_announcer(lab, "--no-ipv6")
    answers = matches(client(lab, "probe", "--source", lab.pc_addr, "--count", "50", "--wait", "2"))
    assert 5 <= len(answers) <= 10


def test_two_announcers_on_one_host_both_answer(lab):
    _, _, first = start_announcer(lab)
    _, _, second = start_announcer(lab)
    answers = matches(client(lab, "probe", "--source", lab.pc_addr))
    assert sorted(m["endpoints"][0] for m in answers) == sorted([first, second])


def test_an_announcer_asked_for_lo_answers_a_probe_from_its_own_host(lab):
    _, _, endpoint = start_announcer(lab, "--interface", "lo")
    done = lab.run_in(lab.pi, [PYTHON, CLIENT, "probe", "--source", "127.0.0.1"], timeout=30)
    answers = matches([json.loads(line) for line in done.stdout.splitlines()])
    assert [m["xaddrs"] for m in answers if m["endpoints"] == [endpoint]] == \
        [[f"http://127.0.0.1:8765/{endpoint.rsplit(':', 1)[1]}"]]


@pytest.mark.skipif(not (shutil.which("airscan-discover") and shutil.which("dbus-daemon")),
                    reason="needs airscan-discover (sane-airscan) and dbus-daemon")
def test_sane_airscan_discovery_takes_our_probe_match_and_goes_for_the_xaddr(lab, tmp_path):
    _, _, endpoint = start_announcer(lab, "--no-ipv6")
    with private_system_bus(lab, lab.pc, tmp_path) as env:
        done = lab.run_in(lab.pc, ["airscan-discover", "-d"], env=env, timeout=60, check=False)
    url = f"http://{lab.pi_addr}:8765/{endpoint.rsplit(':', 1)[1]}"
    assert f"HTTP POST {url}" in done.stdout + done.stderr
