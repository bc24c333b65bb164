"""The package installed with apt into a clean Debian 12 root runs from its installed files."""

from __future__ import annotations

import json
import re
import time

import pytest
from PIL import Image

from gateway import __version__
from tests.support.gateway_process import free_port

pytestmark = pytest.mark.packaging

START_TIMEOUT = 60
SCAN_TIMEOUT = 180
ENTRY = "/usr/bin/sane-wsd-gateway"
# 50 mm at 75 dpi; sane-airscan crops the platen scan to the nearest pixel.
SIDE = round(50 / 25.4 * 75)
# Sets the kernel's memory-deny-write-execute (PR_SET_MDWE, what the unit's
# MemoryDenyWriteExecute= enforces) and then runs the command.
MDWE = ("import ctypes, os, sys\n"
        "if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:\n"
        "    raise SystemExit('PR_SET_MDWE: ' + os.strerror(ctypes.get_errno()))\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n")
# The service's identity: its user and groups, no capabilities, no new privileges.
AS_SERVICE = ["setpriv", "--reuid=sane-wsd-gateway", "--regid=sane-wsd-gateway", "--init-groups",
              "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]


def test_help_runs_from_the_installed_files(installed):
    result = installed.run([ENTRY, "--help"], timeout=60)
    assert "usage: sane-wsd-gateway" in result.stdout


def test_entry_point_runs_the_private_byte_compiled_code(installed):
    """python3 -v names the file each module comes from: the package's private directory, compiled at
    install (the service may not write __pycache__ itself)."""
    result = installed.run(["python3", "-v", ENTRY, "--version"], timeout=60)
    compiled = re.findall(r"^# code object from '?(\S+?gateway/\S+?\.pyc)'?$", result.stderr, re.M)
    assert "/usr/lib/sane-wsd-gateway/gateway/__pycache__/cli.cpython-311.pyc" in compiled, result.stderr[-3000:]
    assert all(p.startswith("/usr/lib/sane-wsd-gateway/gateway/") for p in compiled)
    assert result.stdout.strip() == "sane-wsd-gateway " + __version__


def test_other_programs_python_cannot_import_the_gateway_package(installed):
    result = installed.run(["python3", "-c", "import gateway"], timeout=60, check=False)
    assert result.returncode == 1
    assert "ModuleNotFoundError: No module named 'gateway'" in result.stderr


def test_list_shows_sanes_test_device(installed):
    result = installed.run([ENTRY, "list", "--backend", "test", "--test-device", "yes",
                            "--state-dir", "/tmp/list-state"], timeout=120)
    assert "SANE device: test:0" in result.stdout, result.stdout + result.stderr
    assert "UUID:" in result.stdout


def test_service_user_exists_in_the_scanner_and_lp_groups_and_cannot_log_in(installed):
    passwd = installed.run(["getent", "passwd", "sane-wsd-gateway"]).stdout.strip().split(":")
    assert passwd[2] != "0"
    assert passwd[5] == "/var/lib/sane-wsd-gateway"
    assert passwd[6] == "/usr/sbin/nologin"
    groups = installed.run(["id", "-Gn", "sane-wsd-gateway"]).stdout.split()
    assert {"scanner", "lp"} <= set(groups)


def test_state_directory_belongs_to_the_service_user(installed):
    result = installed.run(["stat", "-c", "%U %a", "/var/lib/sane-wsd-gateway"])
    assert result.stdout.split() == ["sane-wsd-gateway", "750"]


def test_unit_and_man_page_are_installed(installed):
    assert "ExecStart=/usr/bin/sane-wsd-gateway run" in installed.file(
        "/lib/systemd/system/sane-wsd-gateway.service").read_text()
    assert installed.file("/usr/share/man/man8/sane-wsd-gateway.8.gz").exists()


def serve_and_scan(root, tmp_path, name: str, wrapper: list[str], state_dir: str) -> Image.Image:
    """Start the installed gateway on SANE's test device, scan with sane-airscan, return the picture."""
    port = free_port()
    log = tmp_path / f"{name}.log"
    proc = root.popen([*wrapper, ENTRY, "run", "--config", "/etc/sane-wsd-gateway.conf", "--state-dir", state_dir,
                "--port", str(port), "--backend", "test", "--test-device", "yes", "--no-discovery"],
               log, env={"PYTHONUNBUFFERED": "1"})
    try:
        return _scan(root, proc, log, name, port, state_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _scan(root, proc, log, name, port, state_dir):
    devices = root.file(state_dir) / "devices.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not ("scanner(s) on port" in log.read_text() and devices.exists()):
        assert proc.poll() is None, f"the gateway exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the gateway did not start:\n{log.read_text()}"
        time.sleep(0.2)
    uuid = json.loads(devices.read_text())["sane:test:0"]
    client = f"/tmp/{name}-airscan"
    root.file(client).mkdir()
    root.file(client + "/dll.conf").write_text("airscan\n")
    root.file(client + "/airscan.conf").write_text(
        "[devices]\n"
        f'"Gateway" = http://127.0.0.1:{port}/{uuid}/scan, wsd\n'
        "[options]\ndiscovery = disable\nws-discovery = off\n")
    result = root.run(["scanimage", "-d", "airscan:w0:Gateway", "--mode", "Gray", "--resolution", "75",
                       "-x", "50", "-y", "50", "--format=png", "-o", f"/tmp/{name}.png"],
                      env={"SANE_CONFIG_DIR": client}, timeout=SCAN_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr[-3000:] + "\n" + log.read_text()[-3000:]
    return Image.open(root.file(f"/tmp/{name}.png"))


def test_installed_gateway_serves_a_scan_to_sane_airscan(installed, tmp_path):
    picture = serve_and_scan(installed, tmp_path, "plain", [], "/tmp/plain-state")
    assert picture.mode == "L"
    assert picture.size == (SIDE, SIDE)


def test_scan_works_as_the_service_user_without_privileges_and_with_memory_deny_write_execute(installed, tmp_path):
    """What the unit imposes that could break the C extensions or SANE: checked for real, not assumed."""
    installed.file("/tmp/mdwe.py").write_text(MDWE)
    picture = serve_and_scan(installed, tmp_path, "confined", [*AS_SERVICE, "/usr/bin/python3", "/tmp/mdwe.py"],
                             "/var/lib/sane-wsd-gateway")
    assert picture.size == (SIDE, SIDE)
    owner = installed.run(["stat", "-c", "%U", "/var/lib/sane-wsd-gateway/devices.json"]).stdout.strip()
    assert owner == "sane-wsd-gateway"


def test_service_is_enabled_so_it_starts_at_every_boot(installed):
    wants = installed.file("/etc/systemd/system/multi-user.target.wants/sane-wsd-gateway.service")
    assert wants.is_symlink()
    assert str(wants.readlink()) == "/lib/systemd/system/sane-wsd-gateway.service"


def test_firewalld_reads_the_installed_services_as_meant(installed):
    """firewalld's own parser (offline, no daemon): UDP 3702 to the WS-Discovery groups only, and the
    HTTP port through the included service."""
    installed.apt_get("install", "--no-install-recommends", "firewalld")
    assert installed.run(["firewall-offline-cmd", "--check-config"], timeout=120).returncode == 0
    info = installed.run(["firewall-offline-cmd", "--info-service=sane-wsd-gateway"], timeout=120).stdout
    fields = dict(re.findall(r"^\s+([\w-]+):[ \t]*(.*)$", info, re.M))
    assert fields["ports"] == "3702/udp"
    assert sorted(fields["destination"].split()) == ["ipv4:239.255.255.250", "ipv6:ff02::c"]
    assert fields["includes"] == "sane-wsd-gateway-http"
    http = installed.run(["firewall-offline-cmd", "--info-service=sane-wsd-gateway-http"], timeout=120).stdout
    fields = dict(re.findall(r"^\s+([\w-]+):[ \t]*(.*)$", http, re.M))
    assert fields["ports"] == "8765/tcp"
    assert fields["destination"] == ""
