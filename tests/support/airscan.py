"""sane-airscan driven by scanimage: the real WSD and eSCL client, pointed at the gateway's URL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

SCAN_TIMEOUT = 120


def client_config(workdir: Path, scan_url: str, protocol: str = "wsd") -> Path:
    """A private SANE config dir with only airscan, discovery off, tracing on; ``protocol`` wsd or escl
    (for escl, ``scan_url`` is the eSCL root)."""
    cfg = Path(workdir) / "airscan-client"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "dll.conf").write_text("airscan\n")
    (cfg / "airscan.conf").write_text(
        "[devices]\n"
        f'"Gateway" = {scan_url}, {protocol}\n'
        "[options]\n"
        "discovery = disable\n"
        "ws-discovery = off\n"
        "[debug]\n"
        f"trace = {cfg / 'trace'}\n"
    )
    return cfg


def scanimage(config_dir: Path, *args: str, timeout: float = SCAN_TIMEOUT, cwd=None,
              device: str = "airscan:w0:Gateway") -> subprocess.CompletedProcess:
    env = dict(os.environ, SANE_CONFIG_DIR=str(config_dir))
    env.pop("SANE_DEBUG_AIRSCAN", None)
    return subprocess.run(["scanimage", "-d", device, *args], env=env, cwd=cwd,
                          capture_output=True, timeout=timeout)


SLOW_TEST_CONF = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"
"""The test device reading slowly enough (an A4 page takes tens of seconds) for a scan to be caught mid-page."""


def cancel_mid_scan(config_dir: Path, gateway_log, out: Path, device: str = "airscan:w0:Gateway") -> None:
    """An A4 colour scan that scanimage is told to stop (SIGINT, as Ctrl-C) a second after the gateway created
    its job; returns once scanimage has exited (it is killed if it does not within a minute)."""
    env = dict(os.environ, SANE_CONFIG_DIR=str(config_dir))
    env.pop("SANE_DEBUG_AIRSCAN", None)
    proc = subprocess.Popen(["scanimage", "-d", device, "--source", "Flatbed", "--mode", "Color", "--resolution",
                             "300", "-x", "210", "-y", "297", "--format=png", "-o", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while "created on" not in gateway_log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
