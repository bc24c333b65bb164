"""The eSCL scanners on the LAN by mDNS: the gateway's announcer on the pi, avahi-browse on the pc.

Both namespaces run their own avahi-daemon on a private system bus, as a
Debian machine does; the pc sees the pi's services over the veth link.
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from avahi import AvahiDaemon, browse
from netns import PYTHON, REPO, LineWatcher, private_system_bus

pytestmark = pytest.mark.netns

DRIVER = str(REPO / "tests" / "netns" / "mdns_announcer.py")
WAIT = 30
UUID1 = "00000000-0000-4000-8000-000000000001"
UUID2 = "00000000-0000-4000-8000-000000000002"


@dataclass
class Hosts:
    lab: object
    pi_env: dict
    pc_env: dict
    pi_avahi: AvahiDaemon
    """Not started: each test starts (and may stop) it."""

    def seen_from_pc(self, want, timeout: float = WAIT) -> dict:
        """What avahi-browse on the pc finds, once ``want(found)`` holds (else the last finding, for the assert)."""
        deadline = time.monotonic() + timeout
        while True:
            found = browse(self.lab, self.lab.pc, self.pc_env)
            if want(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@pytest.fixture
def hosts(lab, tmp_path):
    """A pi and a pc, each with a system bus and avahi-daemon; the pi's daemon can be stopped and started."""
    (tmp_path / "pi").mkdir()
    (tmp_path / "pc").mkdir()
    with private_system_bus(lab, lab.pi, tmp_path / "pi") as pi_env, \
            private_system_bus(lab, lab.pc, tmp_path / "pc") as pc_env:
        pi_avahi = AvahiDaemon(lab, lab.pi, lab.pi_if, tmp_path, pi_env, f"swgt{lab.pi.split('-')[1]}pi")
        with AvahiDaemon(lab, lab.pc, lab.pc_if, tmp_path, pc_env, f"swgt{lab.pc.split('-')[1]}pc"):
            try:
                yield Hosts(lab, pi_env, pc_env, pi_avahi)
            finally:
                pi_avahi.stop()


class Announcer:
    """tests/netns/mdns_announcer.py in the pi namespace: send it commands, wait for what it says."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.out = LineWatcher(proc.stdout)

    def said(self) -> list[dict]:
        return [json.loads(line) for line in list(self.out.lines) if line.startswith("{")]

    def logs(self) -> list[str]:
        return [m["log"] for m in self.said() if "log" in m]

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_for(self, test, timeout: float = WAIT) -> bool:
        return self.out.wait_for(lambda lines: test([json.loads(x) for x in lines if x.startswith("{")]), timeout)

    def wait_log(self, text: str, count: int = 1, timeout: float = WAIT) -> bool:
        return self.wait_for(lambda said: sum(text in m.get("log", "") for m in said) >= count, timeout)

    def status(self, timeout: float = 10) -> dict:
        before = sum("status" in m for m in self.said())
        self.send("status")
        assert self.wait_for(lambda said: sum("status" in m for m in said) > before, timeout)
        return [m["status"] for m in self.said() if "status" in m][-1]

    def wait_status(self, test, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if test(st) or time.monotonic() > deadline:
                return st
            time.sleep(0.3)


@contextmanager
def announcer(hosts: Hosts, *names: str, args=(), env=None):
    proc = hosts.lab.popen_in(hosts.lab.pi, [PYTHON, DRIVER, *[a for n in names for a in ("--scanner", n)], *args],
                              env=env or hosts.pi_env, stdin=subprocess.PIPE)
    a = Announcer(proc)
    try:
        assert a.wait_for(lambda said: any("started" in m for m in said), timeout=WAIT), a.out.lines
        yield a
    finally:
        if proc.poll() is None:
            try:
                a.send("stop")
                a.wait_for(lambda said: any("stopped" in m for m in said), timeout=10)
            except (BrokenPipeError, OSError):
                pass
        proc.kill()
        proc.wait(timeout=5)


def announced(status: dict, *uuids: str) -> bool:
    return status["state"] == "announcing" and all(u in status["names"] for u in uuids)


def test_every_scanner_is_seen_from_the_lan_with_its_txt_keys(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", "Photo scanner") as a:
        assert announced(a.wait_status(lambda st: announced(st, UUID1, UUID2)), UUID1, UUID2)
        found = hosts.seen_from_pc(lambda f: {"Office scanner", "Photo scanner"} <= f.keys())
    assert {"Office scanner", "Photo scanner"} <= found.keys(), found
    office = found["Office scanner"]
    assert office["port"] == 8765 and office["host"] == f"{hosts.pi_avahi.host}.local"
    assert hosts.lab.pi_addr in office["addresses"]
    host = f"http://{hosts.pi_avahi.host}.local:8765"
    assert office["txt"] == {
        "txtvers": "1", "vers": "2.63", "rs": f"escl/{UUID1}", "ty": "Noname tester 1", "note": "Lab",
        "pdl": "image/jpeg,image/png,application/pdf", "cs": "color,grayscale", "is": "platen,adf",
        "duplex": "F", "uuid": UUID1, "representation": f"{host}/escl/{UUID1}/icon.png", "adminurl": f"{host}/"}
    assert found["Photo scanner"]["txt"]["uuid"] == UUID2


def _publish_office_scanner_from(hosts, ns, env) -> None:
    """Another service named "Office scanner" (port 9999), published by avahi-publish in ``ns``."""
    holder = hosts.lab.popen_in(ns, ["avahi-publish", "-s", "Office scanner", "_uscan._tcp", "9999"], env=env)
    assert LineWatcher(holder.stderr).wait_for(lambda lines: any("Established" in ln for ln in lines), WAIT)


def _announced_as_office_scanner_2(a) -> None:
    st = a.wait_status(lambda st: announced(st, UUID1))
    assert st["names"] == {UUID1: "Office scanner #2"}, st


def test_a_name_another_service_on_the_pi_holds_is_renamed_as_avahi_suggests(hosts):
    hosts.pi_avahi.start()
    _publish_office_scanner_from(hosts, hosts.lab.pi, hosts.pi_env)
    with announcer(hosts, "Office scanner") as a:
        _announced_as_office_scanner_2(a)
        assert any("'Office scanner' is taken" in line and "'Office scanner #2'" in line for line in a.logs())
        found = hosts.seen_from_pc(lambda f: "Office scanner #2" in f)
    assert found["Office scanner #2"]["port"] == 8765 and found["Office scanner"]["port"] == 9999


def test_a_name_a_device_on_the_network_holds_is_renamed_as_avahi_suggests(hosts):
    hosts.pi_avahi.start()
    _publish_office_scanner_from(hosts, hosts.lab.pc, hosts.pc_env)
    with announcer(hosts, "Office scanner") as a:
        _announced_as_office_scanner_2(a)
        found = hosts.seen_from_pc(lambda f: "Office scanner #2" in f)
    assert found["Office scanner #2"]["txt"]["uuid"] == UUID1


def test_the_scanners_are_announced_again_when_avahi_daemon_restarts(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1))
        hosts.pi_avahi.stop()
        st = a.wait_status(lambda st: st["state"] == "unavailable")
        assert st["state"] == "unavailable" and "avahi-daemon stopped" in st["detail"], st
        hosts.pi_avahi.start()
        assert announced(a.wait_status(lambda st: announced(st, UUID1)), UUID1)
        found = hosts.seen_from_pc(lambda f: "Office scanner" in f)
    assert found["Office scanner"]["txt"]["uuid"] == UUID1


def test_without_avahi_daemon_it_is_said_once_and_the_scanners_announced_when_it_starts(hosts):
    with announcer(hosts, "Office scanner") as a:
        st = a.status()
        assert st["state"] == "unavailable" and "avahi-daemon is not running" in st["detail"], st
        time.sleep(1)
        hosts.pi_avahi.start()
        assert announced(a.wait_status(lambda st: announced(st, UUID1)), UUID1)
        assert sum("avahi-daemon is not running" in line for line in a.logs()) == 1, a.logs()
        assert "Office scanner" in hosts.seen_from_pc(lambda f: "Office scanner" in f)


def test_without_a_system_bus_the_announcer_says_so_and_keeps_running(hosts, tmp_path):
    missing = f"unix:path={tmp_path}/no-bus-here"
    with announcer(hosts, "Office scanner", args=["--bus", missing]) as a:
        st = a.status()
        assert st["state"] == "unavailable" and "no D-Bus system bus" in st["detail"], st
        assert sum("no D-Bus system bus" in line for line in a.logs()) == 1


def test_a_withdrawn_scanner_disappears_from_the_lan_and_the_others_stay(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", "Photo scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1, UUID2))
        hosts.seen_from_pc(lambda f: {"Office scanner", "Photo scanner"} <= f.keys())
        a.send("withdraw 1")
        found = hosts.seen_from_pc(lambda f: "Office scanner" not in f)
        assert "Office scanner" not in found and "Photo scanner" in found, found
        assert a.status()["names"] == {UUID2: "Photo scanner"}


def test_stopping_withdraws_every_scanner(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1))
        hosts.seen_from_pc(lambda f: "Office scanner" in f)
        a.send("stop")
        assert a.wait_for(lambda said: any("stopped" in m for m in said), timeout=10)
        assert "Office scanner" not in hosts.seen_from_pc(lambda f: "Office scanner" not in f)


def test_a_renamed_scanner_is_announced_under_its_new_name(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1))
        a.send("announce 1 Front desk scanner")
        st = a.wait_status(lambda st: st["names"].get(UUID1) == "Front desk scanner")
        assert st["names"] == {UUID1: "Front desk scanner"}
        found = hosts.seen_from_pc(lambda f: "Front desk scanner" in f and "Office scanner" not in f)
    assert "Front desk scanner" in found and "Office scanner" not in found


def test_announcing_on_a_named_interface_reaches_the_lan_through_it(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", args=["--interface", hosts.lab.pi_if]) as a:
        assert announced(a.wait_status(lambda st: announced(st, UUID1)), UUID1)
        assert "Office scanner" in hosts.seen_from_pc(lambda f: "Office scanner" in f)


def test_an_interface_avahi_does_not_know_is_said_and_nothing_is_announced_there(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", args=["--interface", "nosuch0"]) as a:
        assert a.wait_log("does not know the interface 'nosuch0'")
        assert a.status()["names"] == {}


def test_without_ipv6_the_scanner_is_announced_over_ipv4_only(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", args=["--no-ipv6"]) as a:
        a.wait_status(lambda st: announced(st, UUID1))
        found = hosts.seen_from_pc(lambda f: "Office scanner" in f)
    assert found["Office scanner"]["addresses"] == {hosts.lab.pi_addr}, found


def test_a_new_host_name_of_the_pi_is_followed_in_the_records_and_their_urls(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1))
        renamed = hosts.pi_avahi.host + "b"
        hosts.lab.run_in(hosts.lab.pi, ["avahi-set-host-name", renamed], env=hosts.pi_env, timeout=10)
        found = hosts.seen_from_pc(lambda f: f.get("Office scanner", {}).get("host") == f"{renamed}.local")
        assert a.status()["state"] == "announcing"
    office = found["Office scanner"]
    assert office["host"] == f"{renamed}.local", found
    assert office["txt"]["adminurl"] == f"http://{renamed}.local:8765/"


def test_airscan_discover_on_the_pc_lists_each_scanner_at_its_escl_url(hosts):
    hosts.pi_avahi.start()
    with announcer(hosts, "Office scanner", "Photo scanner") as a:
        a.wait_status(lambda st: announced(st, UUID1, UUID2))
        hosts.seen_from_pc(lambda f: {"Office scanner", "Photo scanner"} <= f.keys())
        done = hosts.lab.run_in(hosts.lab.pc, ["airscan-discover"], env=hosts.pc_env, timeout=60)
    lines = [line.strip() for line in done.stdout.splitlines()]
    for name, uuid in (("Office scanner", UUID1), ("Photo scanner", UUID2)):
        assert f"{name} = http://{hosts.lab.pi_addr}:8765/escl/{uuid}/, eSCL" in lines, done.stdout
