"""Fixtures for tests that need two hosts: skip cleanly where namespaces cannot be made."""

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (str(HERE.parents[1]), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from netns import pc_pi, unavailable_reason  # noqa: E402


@pytest.fixture
def lab():
    """Namespaces pc and pi on a veth pair, removed after the test whatever happens."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    try:
        with pc_pi() as created:
            yield created
    except subprocess.CalledProcessError as e:
        if list(e.cmd[:3]) == ["ip", "netns", "add"]:
            pytest.skip(f"cannot create network namespaces here: {e.stderr.strip()}")
        raise
