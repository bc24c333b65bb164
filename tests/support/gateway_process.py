"""The real gateway in a subprocess, on a free port, serving SANE's test device."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30


START_ATTEMPTS = 3
"""A port found free can be taken by another process before the gateway binds it: try again on another."""


def free_port() -> int:
    """A TCP port free on every address, IPv4 and IPv6 alike: the gateway listens on the wildcard."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
            return s.getsockname()[1]
    except OSError:
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            return s.getsockname()[1]


class _PortTaken(Exception):
    """Another process bound the chosen port between our check and the gateway's start."""


class GatewayProcess:
    """``with GatewayProcess(tmp_path) as gw:`` -> gw.url, gw.scan_url, gw.uuid, gw.log()."""

    def __init__(self, workdir: Path, test_conf: str = "geometry_max 300.0\n", extra_args=(),
                 entry: list[str] | None = None, wrapper: list[str] = (), discovery: bool = False,
                 host: str = "127.0.0.1", config: str = ""):
        self.workdir = Path(workdir)
        self.state = self.workdir / "state"
        self.port = free_port()
        self.test_conf = test_conf
        self.extra_args = list(extra_args)
        self.entry = entry or [sys.executable, "-m", "gateway"]
        self.wrapper = list(wrapper)
        self.discovery = discovery
        self.host = host
        self.config = config  # more lines for the [gateway] section of its config file
        self.log_path = self.workdir / "gateway.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "GatewayProcess":
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start()
            except _PortTaken:
                self._log_file.close()
                self.port = free_port()
        raise RuntimeError(f"no free port after {START_ATTEMPTS} attempts:\n{self.log()}")

    def _start(self) -> "GatewayProcess":
        (self.state / "sane.d").mkdir(parents=True, exist_ok=True)
        (self.state / "sane.d" / "test.conf").write_text(self.test_conf)
        config = self.workdir / "gateway.conf"
        config.write_text("[gateway]\nlog_level = debug\n" + self.config)
        argv = self.wrapper + self.entry + [
            "run", "--config", str(config), "--state-dir", str(self.state), "--port", str(self.port),
            "--backend", "test", "--test-device", "yes"] + ([] if self.discovery else ["--no-discovery"]) \
            + self.extra_args
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self._log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log():
                    raise _PortTaken()
                raise RuntimeError(f"the gateway exited at start:\n{self.log()}")
            if "serving" in self.log() and "scanner(s) on port" in self.log():
                break
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"the gateway did not start in {START_TIMEOUT} s:\n{self.log()}")
        devices = json.loads((self.state / "devices.json").read_text())
        self.uuids = {key.split(":", 1)[1]: value for key, value in devices.items()}
        self.uuid = self.uuids.get("test:0") or next(iter(self.uuids.values()))
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.uuid}"

    @property
    def scan_url(self) -> str:
        return f"{self.url}/scan"

    def log(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def get(self, path: str = "/") -> bytes:
        with urllib.request.urlopen(f"http://{self.host}:{self.port}{path}", timeout=10) as r:
            return r.read()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log_file.close()
        return self.proc.returncode

    def __exit__(self, *exc) -> None:
        self.stop()
