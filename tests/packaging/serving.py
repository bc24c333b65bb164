"""The installed gateway run inside a Debian root, scanned from this machine with its sane-airscan.

A chroot shares this machine's network: the gateway in the root listens on a loopback port, and
``scanimage`` here reaches it there, whatever the root's architecture or release.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from PIL import Image

from tests.packaging.debian_root import DebianRoot
from tests.support.airscan import client_config, scanimage
from tests.support.gateway_process import free_port

ENTRY = "/usr/bin/sane-wsd-gateway"
START_TIMEOUT = 180  # Python and Twisted starting under qemu
SCAN_TIMEOUT = 300


class InstalledGateway:
    """``with InstalledGateway(root, workdir) as gw: gw.scan(...)``: the package's own entry point serving
    SANE's test device, no discovery, on a free port."""

    def __init__(self, root: DebianRoot, workdir: Path, state_dir: str = "/tmp/gateway-state"):
        self.root = root
        self.workdir = Path(workdir)
        self.state_dir = state_dir
        self.port = free_port()
        self.log = self.workdir / "gateway.log"
        self.proc: subprocess.Popen | None = None
        self.uuid = ""

    def __enter__(self) -> "InstalledGateway":
        self.proc = self.root.popen([ENTRY, "run", "--config", "/etc/sane-wsd-gateway.conf", "--state-dir",
                                     self.state_dir, "--port", str(self.port), "--backend", "test",
                                     "--test-device", "yes", "--no-discovery"], self.log,
                                    env={"PYTHONUNBUFFERED": "1"})
        devices = self.root.file(self.state_dir) / "devices.json"
        deadline = time.monotonic() + START_TIMEOUT
        while not ("scanner(s) on port" in self.log.read_text() and devices.exists()):
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway did not start in {START_TIMEOUT} s:\n{self.log.read_text()}")
            time.sleep(0.5)
        self.uuid = json.loads(devices.read_text())["sane:test:0"]
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def scan(self, *args: str) -> Image.Image:
        """Scan with this machine's scanimage through sane-airscan; return the picture."""
        config = client_config(self.workdir, f"http://127.0.0.1:{self.port}/{self.uuid}/scan")
        out = self.workdir / "scan.png"
        result = scanimage(config, *args, "--format=png", "-o", str(out), timeout=SCAN_TIMEOUT)
        assert result.returncode == 0, result.stderr.decode()[-3000:] + "\n" + self.log.read_text()[-3000:]
        return Image.open(out)
