"""Fast checks of the packaging sources: versions agree, the unit is hardened, firewall profiles match the port."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from gateway import __version__
from gateway.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "etc" / "sane-wsd-gateway.service"
MAX_EXPOSURE = 2.0


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_debian_changelog_version_is_the_gateway_version():
    first = (ROOT / "packaging" / "debian" / "changelog").read_text().splitlines()[0]
    assert re.match(r"^sane-wsd-gateway \(([^)]+)\)", first).group(1) == __version__


def test_unit_runs_the_gateway_as_its_own_user_with_its_state_directory():
    s = unit_settings()
    assert s["ExecStart"] == ["/usr/bin/sane-wsd-gateway run --config /etc/sane-wsd-gateway.conf"]
    assert s["User"] == ["sane-wsd-gateway"]
    assert s["SupplementaryGroups"] == ["scanner lp"]
    assert s["StateDirectory"] == ["sane-wsd-gateway"]
    assert s["Restart"] == ["on-failure"]


def test_unit_is_hardened():
    s = unit_settings()
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "CapabilityBoundingSet": "", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "RestrictNamespaces": "yes",
        "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "RestrictRealtime": "yes",
        "ProtectClock": "yes", "ProtectHostname": "yes", "DevicePolicy": "closed",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    }.items():
        assert s.get(key) == [value], key
    assert "@system-service" in s["SystemCallFilter"]


def test_unit_allows_the_device_classes_sane_opens_scanners_through_and_no_other():
    """Named as the kernel registers them in /proc/devices: usb_device (/dev/bus/usb/*, libusb),
    sg (/dev/sg*, SCSI scanners through sanei_scsi), ppdev (/dev/parport*, parallel-port scanners
    through libieee1284)."""
    assert unit_settings()["DeviceAllow"] == ["char-usb_device rw", "char-sg rw", "char-ppdev rw"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed (package systemd)")
def test_systemd_reads_the_device_policy_as_those_classes_and_the_clocks_read_only():
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    acl = re.search(r"DeviceAllow=\s+Service has a device ACL with some special devices: (.*?)\s+[\d.]+$",
                    result.stdout, re.M)
    assert acl, result.stdout
    # char-rtc r is systemd's own, from ProtectClock=yes.
    assert sorted(acl.group(1).split()) == ["char-ppdev:rw", "char-rtc:r", "char-sg:rw", "char-usb_device:rw"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed (package systemd)")
def test_systemd_analyze_rates_the_unit_exposure_at_most_2():
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= MAX_EXPOSURE, result.stdout


def test_unit_gives_room_for_many_clients_and_the_gateways_own_descriptors():
    from gateway.connections import PER_ADDRESS, connection_budget
    [limit] = unit_settings()["LimitNOFILE"]
    soft = int(limit.split(":")[0])
    assert soft >= 4096
    assert connection_budget(soft) >= 100 * PER_ADDRESS  # a hundred busy clients at their share
    assert soft - connection_budget(soft) >= 64  # kept for scanners, files and event deliveries


def firewalld_service(name: str) -> ElementTree.Element:
    return ElementTree.parse(ROOT / "etc" / "firewalld" / f"{name}.xml").getroot()


def test_ufw_profile_opens_the_default_port_and_ws_discovery():
    ufw = configparser.ConfigParser()
    ufw.read(ROOT / "etc" / "ufw" / "applications.d" / "sane-wsd-gateway")
    assert ufw["sane-wsd-gateway"]["ports"] == f"{DEFAULT_PORT}/tcp|3702/udp"


def test_firewalld_service_opens_ws_discovery_only_to_its_multicast_groups():
    service = firewalld_service("sane-wsd-gateway")
    assert [p.attrib for p in service.iter("port")] == [{"protocol": "udp", "port": "3702"}]
    assert [d.attrib for d in service.iter("destination")] == [{"ipv4": "239.255.255.250", "ipv6": "ff02::c"}]
    assert [i.get("service") for i in service.iter("include")] == ["sane-wsd-gateway-http"]


def test_firewalld_service_includes_the_http_port_for_any_destination():
    http = firewalld_service("sane-wsd-gateway-http")
    assert [p.attrib for p in http.iter("port")] == [{"protocol": "tcp", "port": str(DEFAULT_PORT)}]
    assert list(http.iter("destination")) == []


def test_packaged_config_keeps_state_where_the_unit_puts_it():
    conf = configparser.ConfigParser()
    conf.read(ROOT / "etc" / "sane-wsd-gateway.conf")
    assert conf["gateway"]["state_dir"] == "/var/lib/sane-wsd-gateway"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed (package systemd)")
def test_systemd_accepts_every_line_of_the_unit():
    """systemd ignores a misspelt key or value with only a warning: make that a failure."""
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(UNIT)], capture_output=True, text=True,
                            timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if line.strip() and "/usr/bin/sane-wsd-gateway is not executable" not in line]
    assert complaints == []
