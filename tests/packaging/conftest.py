"""Fixtures of the packaging tests: the .deb built from a fresh clone, and clean Debian 12 roots."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.packaging.debian_root import DebianRoot

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1200


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "packaging: builds the .deb from a fresh clone and installs it into a clean Debian 12 "
                   "root (needs root; slow the first time, while the root is debootstrapped)")


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("packaging tests need root: dpkg-buildpackage's dependencies, debootstrap, chroot, "
                    "unshare --mount")


class Build:
    def __init__(self, out: Path, result: subprocess.CompletedProcess):
        self.out = out
        self.result = result
        debs = sorted(out.glob("sane-wsd-gateway_*.deb"))
        assert len(debs) == 1, f"expected one .deb in {out}: {sorted(out.iterdir())}\n{result.stderr[-3000:]}"
        self.deb = debs[0]
        self.changes = self.deb.with_suffix(".changes")


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    """``packaging/build-deb`` run in a fresh ``git clone`` of this repository (its committed HEAD)."""
    needs_root()
    work = tmp_path_factory.mktemp("deb")
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
                   check=True, capture_output=True, timeout=120)
    out = work / "out"
    result = subprocess.run([str(clone / "packaging" / "build-deb"), str(out)], capture_output=True,
                            text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"build-deb failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    return Build(out, result)


@pytest.fixture(scope="session")
def deb(build) -> Path:
    return build.deb


@pytest.fixture
def debian_root(tmp_path):
    """A clean Debian 12 minbase root of its own (copied from the cached tarball)."""
    needs_root()
    root = DebianRoot(tmp_path / "root")
    try:
        yield root
    finally:
        root.close()


def install(root: DebianRoot, deb: Path, *also: str) -> None:
    """``apt-get install ./the.deb`` in the root: dependencies from Debian, maintainer scripts run."""
    target = root.file("/tmp") / deb.name
    target.write_bytes(deb.read_bytes())
    root.apt_get("update")
    root.apt_get("install", f"/tmp/{deb.name}", *also)


@pytest.fixture(scope="module")
def installed(deb, tmp_path_factory):
    """One root per module with the package installed, and sane-airscan to scan with."""
    root = DebianRoot(tmp_path_factory.mktemp("installed") / "root")
    try:
        install(root, deb)
        root.apt_get("install", "--no-install-recommends", "sane-airscan")
        yield root
    finally:
        root.close()
