"""sane-airscan driven by scanimage: the real WSD and eSCL client, pointed at the gateway's URL."""

from __future__ import annotations

import os
import subprocess
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
