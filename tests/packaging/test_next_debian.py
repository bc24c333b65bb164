"""The upgrade path: the package built on Debian 12, installed into Debian 13 (trixie) as it is.

After ``apt full-upgrade`` to the next release the installed package meets a newer python3 (3.13) and
rebuilt python3-* packages. Nothing in it may be tied to the Python of the build: its Depends, its C
extensions (Python's stable ABI) and its byte-compiled code (redone for the new Python).
"""

from __future__ import annotations

import pytest

from tests.packaging.serving import ENTRY, InstalledGateway

pytestmark = pytest.mark.packaging

SIDE = round(50 / 25.4 * 75)


def test_debian_12_package_installs_on_debian_13_with_its_newer_python(next_debian):
    version = next_debian.run(["python3", "-c", "import sys; print(*sys.version_info[:2])"]).stdout.split()
    assert tuple(map(int, version)) >= (3, 13)
    status = next_debian.run(["dpkg-query", "-W", "-f=${Status}", "sane-wsd-gateway"]).stdout
    assert status == "install ok installed"


def test_private_code_is_byte_compiled_for_the_newer_python(next_debian):
    tag = next_debian.run(["python3", "-c", "import sys; print(sys.implementation.cache_tag)"]).stdout.strip()
    assert next_debian.file(f"/usr/lib/sane-wsd-gateway/gateway/__pycache__/cli.{tag}.pyc").exists()


def test_debian_12_package_lists_sanes_test_device_on_debian_13(next_debian):
    result = next_debian.run([ENTRY, "list", "--backend", "test", "--test-device", "yes", "--state-dir",
                              "/tmp/list-state"], timeout=120)
    assert "SANE device: test:0" in result.stdout, result.stdout + result.stderr


def test_debian_12_package_serves_a_scan_on_debian_13(next_debian, tmp_path):
    with InstalledGateway(next_debian, tmp_path) as gateway:
        picture = gateway.scan("--mode", "Gray", "--resolution", "75", "-x", "50", "-y", "50")
    assert picture.mode == "L"
    assert picture.size == (SIDE, SIDE)
