"""The real gateway on a "pi" with avahi-daemon: its eSCL scanner found from a "pc" by mDNS and scanned from.

Both namespaces run their own system bus and avahi-daemon, as Debian machines
do; the clients on the pc (avahi-browse, airscan-discover, scanimage with
sane-airscan's discovery) are nobody's here.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from avahi import AvahiDaemon, browse
from netns import PYTHON, private_system_bus
from tests.support.airscan import SCAN_TIMEOUT
from tests.support.gateway_process import GatewayProcess

pytestmark = [pytest.mark.netns, pytest.mark.skipif(
    not all(shutil.which(t) for t in ("avahi-daemon", "avahi-browse", "airscan-discover", "scanimage",
                                      "dbus-daemon")),
    reason="needs avahi-daemon, avahi-utils, sane-airscan, sane-utils and dbus-daemon")]
WAIT = 30


@dataclass
class Lan:
    lab: object
    gw: GatewayProcess
    pc_env: dict

    def seen_from_pc(self, timeout: float = WAIT) -> dict:
        """The _uscan._tcp services the pc sees, once the gateway's is among them."""
        deadline = time.monotonic() + timeout
        while True:
            found = browse(self.lab, self.lab.pc, self.pc_env)
            if any(s["txt"].get("uuid") == self.gw.uuid for s in found.values()) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@contextmanager
def gateway_with_avahi(lab, tmp_path):
    (tmp_path / "pi").mkdir()
    (tmp_path / "pc").mkdir()
    with private_system_bus(lab, lab.pi, tmp_path / "pi") as pi_env, \
            private_system_bus(lab, lab.pc, tmp_path / "pc") as pc_env, \
            AvahiDaemon(lab, lab.pi, lab.pi_if, tmp_path, pi_env, f"swgt{lab.pi.split('-')[1]}pi"), \
            AvahiDaemon(lab, lab.pc, lab.pc_if, tmp_path, pc_env, f"swgt{lab.pc.split('-')[1]}pc"):
        bus = f"DBUS_SYSTEM_BUS_ADDRESS={pi_env['DBUS_SYSTEM_BUS_ADDRESS']}"
        with GatewayProcess(tmp_path / "gw", wrapper=["ip", "netns", "exec", lab.pi, "env", bus], discovery=True,
                            host=lab.pi_addr, extra_args=["--interface", lab.pi_if],
                            config="friendly_name = Lab scanner\n") as gw:
            yield Lan(lab, gw, pc_env)


def test_the_pc_sees_the_scanner_as_uscan_with_its_txt_keys(lab, tmp_path):
    with gateway_with_avahi(lab, tmp_path) as lan:
        found = lan.seen_from_pc()
        fetch = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
        status = json.loads(lab.run_in(lab.pc, [PYTHON, "-c", fetch, f"http://{lab.pi_addr}:{lan.gw.port}/status.json"],
                                       timeout=30).stdout)
    assert "Lab scanner" in found, found
    service = found["Lab scanner"]
    txt = service["txt"]
    assert service["port"] == lan.gw.port
    assert txt["rs"] == f"{lan.gw.uuid}/eSCL" and txt["uuid"] == lan.gw.uuid
    assert txt["is"] == "platen,adf" and "image/png" in txt["pdl"].split(",")
    assert txt["representation"].endswith(f":{lan.gw.port}/{lan.gw.uuid}/eSCL/ScannerIcon")
    assert [(a["protocol"], a["state"]) for a in status["announcers"]] == [("eSCL (mDNS)", "announcing")]


def test_airscan_discover_lists_the_scanner_at_its_escl_url(lab, tmp_path):
    with gateway_with_avahi(lab, tmp_path) as lan:
        lan.seen_from_pc()
        done = lab.run_in(lab.pc, ["airscan-discover"], env=lan.pc_env, timeout=60, check=False)
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert f"Lab scanner = http://{lab.pi_addr}:{lan.gw.port}/{lan.gw.uuid}/eSCL/, eSCL" in lines, done.stdout


def test_scanimage_finds_the_scanner_by_mdns_and_scans_through_escl(lab, tmp_path):
    cfg = tmp_path / "airscan-discovering"
    cfg.mkdir()
    (cfg / "dll.conf").write_text("airscan\n")
    (cfg / "airscan.conf").write_text("[devices]\n[options]\ndiscovery = enable\nws-discovery = full\n")
    with gateway_with_avahi(lab, tmp_path) as lan:
        lan.seen_from_pc()
        env = dict(lan.pc_env, SANE_CONFIG_DIR=str(cfg))
        listed = lab.run_in(lab.pc, ["scanimage", "-L"], env=env, timeout=SCAN_TIMEOUT, check=False)
        names = [line.split("`")[1].split("'")[0] for line in listed.stdout.splitlines() if "`airscan:" in line]
        # sane-airscan shows the eSCL device and hides the WSD one on the same address.
        assert names and all(n.startswith("airscan:e") for n in names), listed.stdout + listed.stderr[-2000:]
        out = tmp_path / "found.png"
        scanned = lab.run_in(lab.pc, ["scanimage", "-d", names[0], "--mode", "Gray", "--resolution", "75",
                                      "-x", "50", "-y", "50", "--format=png", "-o", str(out)],
                             env=env, timeout=SCAN_TIMEOUT, check=False)
        assert scanned.returncode == 0, scanned.stderr[-3000:]
        log = lan.gw.log()
    from PIL import Image
    assert Image.open(out).size == (148, 148)
    assert "eSCL: job" in log and "created for" in log


def test_a_renamed_scanner_is_announced_under_its_new_name_after_sighup(lab, tmp_path):
    import signal
    with gateway_with_avahi(lab, tmp_path) as lan:
        assert "Lab scanner" in lan.seen_from_pc()
        config = lan.gw.workdir / "gateway.conf"
        config.write_text(config.read_text().replace("friendly_name = Lab scanner", "friendly_name = Renamed scanner"))
        lan.gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = browse(lab, lab.pc, lan.pc_env)
            if "Renamed scanner" in found and "Lab scanner" not in found:
                break  # (the old name lingers a second in the pc's cache after avahi's goodbye)
            time.sleep(0.5)
    assert "Renamed scanner" in found and "Lab scanner" not in found, found


def test_without_avahi_daemon_it_is_one_log_line_the_status_page_says_so_and_wsd_still_serves(lab, tmp_path):
    with private_system_bus(lab, lab.pi, tmp_path) as pi_env:
        bus = f"DBUS_SYSTEM_BUS_ADDRESS={pi_env['DBUS_SYSTEM_BUS_ADDRESS']}"
        with GatewayProcess(tmp_path / "gw", wrapper=["ip", "netns", "exec", lab.pi, "env", bus], discovery=True,
                            host=lab.pi_addr, extra_args=["--interface", lab.pi_if]) as gw:
            fetch = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
            deadline = time.monotonic() + WAIT
            while "avahi-daemon is not running" not in gw.log() and time.monotonic() < deadline:
                time.sleep(0.2)
            status = json.loads(lab.run_in(lab.pc, [PYTHON, "-c", fetch, f"http://{lab.pi_addr}:{gw.port}/status.json"],
                                           timeout=30).stdout)
            page = lab.run_in(lab.pc, [PYTHON, "-c", fetch, f"http://{lab.pi_addr}:{gw.port}/"], timeout=30).stdout
            caps = lab.run_in(lab.pc, [PYTHON, "-c", fetch,
                                       f"http://{lab.pi_addr}:{gw.port}/{gw.uuid}/eSCL/ScannerCapabilities"],
                              timeout=30).stdout
            time.sleep(1)
            log = gw.log()
    assert log.count("avahi-daemon is not running") == 1, log[-3000:]
    assert [(a["protocol"], a["state"]) for a in status["announcers"]] == [("eSCL (mDNS)", "unavailable")]
    assert "avahi-daemon is not running" in page
    assert "ScannerCapabilities" in caps
