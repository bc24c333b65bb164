"""Starting SANE over (sane_exit, sane_init, sane_get_devices) on the real test backend.

SANE's test backend reads its test.conf only in sane_init, like most USB
backends read the bus: a change of ``number_of_devices`` stands in for a
scanner plugged in. Each scenario runs in a process of its own
(reinit_scenarios.py): SANE's state is the process's, and a mistake is a
segfault, which shows here as a non-zero exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.scanner.inventory import sane_config_dir

pytestmark = pytest.mark.sane

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("reinit_scenarios.py")


def run(scenario: str, tmp_path) -> dict:
    config = sane_config_dir(tmp_path / "state", with_test_backend=True, backends=["test"])
    result = subprocess.run([sys.executable, str(SCENARIOS), scenario, config], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.splitlines()[-1])


def test_devices_configured_since_sane_init_are_seen_only_after_starting_over(tmp_path):
    seen = run("count", tmp_path)
    assert seen["at_start"] == 2
    assert seen["without_reinit"] == 2  # what makes the re-initialisation necessary
    assert seen["after_reinit"] == ["test:0", "test:1", "test:2", "test:3"]


def test_starting_over_is_refused_while_a_device_is_open_and_that_device_keeps_working(tmp_path):
    seen = run("refused_while_open", tmp_path)
    assert seen["refused"]["names"] == ["test:0"]
    assert "test:0" in seen["refused"]["message"]
    assert seen["open_device_still_scans"] > 0
    assert seen["after_close"] == 2


def test_new_and_old_devices_scan_after_starting_over(tmp_path):
    seen = run("scan_after", tmp_path)
    assert seen["new_device"] == seen["old_device"] == seen["before"] > 0


def test_a_device_dropped_without_close_does_not_hold_starting_over_back(tmp_path):
    seen = run("dropped_unclosed", tmp_path)
    assert seen == {"open": [], "after": 2}


def test_the_gateways_signal_handling_survives_starting_over(tmp_path):
    assert run("signals_kept", tmp_path) == {"SIGTERM": True, "SIGPIPE": True}
