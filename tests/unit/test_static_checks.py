"""Checks on the source itself, as part of every test run: pyflakes, and no private Twisted attributes."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("gateway", "tests", "bench")
TWISTED_OBJECTS = r"(?:request|transport|reactor|channel|site|factory|protocol|producer|consumer|port|clock)"
PRIVATE = re.compile(rf"(?<![A-Za-z0-9])_?{TWISTED_OBJECTS}\._[a-z]\w*")


def test_pyflakes_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "pyflakes", *SOURCES], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_private_attribute_of_a_twisted_object_is_used():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in sorted((ROOT / "gateway").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if PRIVATE.search(line)]
    assert not found, "\n".join(found)


def test_the_private_attribute_check_sees_one():
    assert PRIVATE.search("if request._disconnected:") and PRIVATE.search("self._reactor._started")
    assert not PRIVATE.search("self._reactor.callLater(1, f)")
