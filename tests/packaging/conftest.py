"""Fixtures of the packaging tests: the .deb built as README says (a user's clone, build-deb as root, on a
bare Debian 12), the same for arm64 and armhf under qemu, and clean Debian 12 and 13 roots."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.packaging.debian_root import (
    DebianRoot, archives_for, cached_tarball, native_arch, prepared_tarball,
)

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1200
FOREIGN_BUILD_TIMEOUT = 1800
FOREIGN_ARCHES = ("arm64", "armhf")
FOREIGN_TIMES: list[str] = []
USER = "pi"  # the user whose clone README's "sudo packaging/build-deb" builds
UNCOMMITTED = ".. an edit in the clone that was never committed"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "packaging: builds the .deb from a fresh clone and installs it into a clean Debian 12 "
                   "root (needs root; slow the first time, while the root is debootstrapped)")


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("packaging tests need root: dpkg-buildpackage's dependencies, debootstrap, chroot, "
                    "unshare --mount")


class Build:
    def __init__(self, out: Path, result: subprocess.CompletedProcess, as_user: subprocess.CompletedProcess):
        self.out = out
        self.result = result
        self.as_user = as_user  # build-deb run first as the clone's owner, who cannot install anything
        debs = sorted(out.glob("sane-wsd-gateway_*.deb"))
        assert len(debs) == 1, f"expected one .deb in {out}: {sorted(out.iterdir())}\n{result.stderr[-3000:]}"
        self.deb = debs[0]
        self.changes = self.deb.with_suffix(".changes")


def clone_into(root: DebianRoot, path: str, owner: str | None = None) -> None:
    """A fresh ``git clone`` of this repository (its committed HEAD) at ``path`` in the root."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(root.file(path))],
                   check=True, capture_output=True, timeout=120)
    if owner:
        root.run(["chown", "-R", f"{owner}:{owner}", path])


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    """README's way: on a bare Debian 12 with only git installed, a user's clone, then
    ``sudo packaging/build-deb``, which must install everything else it needs itself."""
    needs_root()
    work = tmp_path_factory.mktemp("deb")
    root = DebianRoot(work / "root")
    try:
        root.apt_get("update")
        root.apt_get("install", "--no-install-recommends", "git")
        root.run(["useradd", "--create-home", USER])
        clone_into(root, f"/home/{USER}/sane-wsd-gateway", owner=USER)
        with root.file(f"/home/{USER}/sane-wsd-gateway/README.rst").open("a") as readme:
            readme.write(f"\n{UNCOMMITTED}\n")
        script = f"/home/{USER}/sane-wsd-gateway/packaging/build-deb"
        as_user = root.run(["runuser", "-u", USER, "--", script, f"/home/{USER}/deb"], check=False, timeout=120)
        # apt runs inside build-deb: hold the archive cache's lock meanwhile, as apt_get does.
        with root.apt_lock():
            result = root.run([script, f"/home/{USER}/deb"], check=False, timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, f"build-deb failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
        out = work / "out"
        out.mkdir()
        for f in root.file(f"/home/{USER}/deb").iterdir():
            (out / f.name).write_bytes(f.read_bytes())
        return Build(out, result, as_user)
    finally:
        root.close()


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


@pytest.fixture(scope="module")
def next_debian(deb, tmp_path_factory):
    """The Debian 12 package installed into a clean Debian 13 (trixie) root: what an upgraded system
    gives it (a newer python3, rebuilt python3-* packages)."""
    root = DebianRoot(tmp_path_factory.mktemp("trixie") / "root", cached_tarball("trixie"),
                      archives_for("trixie", native_arch()))
    try:
        install(root, deb, "--no-install-recommends")
        yield root
    finally:
        root.close()


@dataclass
class ForeignBuild:
    """The package built in (and installed into) a Debian 12 root of a foreign architecture."""
    arch: str
    root: DebianRoot
    deb: Path
    seconds: dict[str, float] = field(default_factory=dict)


def _foreign_build(arch: str, work: Path) -> ForeignBuild:
    seconds = {}
    start = time.monotonic()
    tarball = prepared_tarball(arch, ROOT / "packaging" / "debian")
    seconds["root ready"] = time.monotonic() - start
    root = DebianRoot(work / "root", tarball, archives_for("bookworm", arch), background=True)
    try:
        clone_into(root, "/root/sane-wsd-gateway")
        mark = time.monotonic()
        with root.apt_lock():
            result = root.run(["/root/sane-wsd-gateway/packaging/build-deb", "/root/deb"], check=False,
                              timeout=FOREIGN_BUILD_TIMEOUT)
        assert result.returncode == 0, \
            f"build-deb on {arch} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
        seconds["build-deb"] = time.monotonic() - mark
        debs = sorted(root.file("/root/deb").glob("sane-wsd-gateway_*.deb"))
        assert len(debs) == 1, debs
        mark = time.monotonic()
        root.apt_get("install", "--no-install-recommends", f"/root/deb/{debs[0].name}")
        seconds["install"] = time.monotonic() - mark
    except BaseException:
        root.close()
        raise
    return ForeignBuild(arch, root, debs[0], seconds)


# The foreign builds of this session: arch -> a future ForeignBuild, and the threads making them.
FOREIGN_BUILDS: dict[str, concurrent.futures.Future] = {}
_foreign: dict = {}


def _uses_foreign(item) -> bool:
    return "foreign" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """The tests of the foreign builds run last: everything else runs while the builds go on."""
    items[:] = [i for i in items if not _uses_foreign(i)] + [i for i in items if _uses_foreign(i)]


def pytest_collection_finish(session):
    """Start every foreign build the session's tests need, as soon as they are known: each architecture
    once, all at once, in threads whose commands run at idle priority (see debian_root.BACKGROUND), so
    that the rest of the suite runs at its own speed and the builds take the CPU it leaves over."""
    arches = sorted({i.callspec.params["arch"] for i in session.items if _uses_foreign(i)
                     and hasattr(i, "callspec") and "arch" in i.callspec.params})
    if not arches or os.geteuid() != 0 or session.config.option.collectonly:
        return  # without root the tests skip (see foreign)
    work = Path(tempfile.mkdtemp(prefix="sane-wsd-gateway-foreign."))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(arches))
    _foreign.update(pool=pool, work=work)
    for arch in arches:
        FOREIGN_BUILDS[arch] = pool.submit(_foreign_build, arch, work / arch)


def pytest_sessionfinish(session):
    pool = _foreign.pop("pool", None)
    if pool is None:
        return
    pool.shutdown(wait=True)
    for arch, f in FOREIGN_BUILDS.items():
        if f.exception() is None:
            built = f.result()
            steps = ", ".join(f"{step} {s:.0f} s" for step, s in built.seconds.items())
            FOREIGN_TIMES.append(f"{arch}: {steps}")
            built.root.close()
    shutil.rmtree(_foreign.pop("work"), ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """How long the foreign builds took, step by step (the slowest part of the suite)."""
    if FOREIGN_TIMES:
        terminalreporter.section("foreign-architecture packages")
        for line in FOREIGN_TIMES:
            terminalreporter.write_line(line)


@pytest.fixture(params=FOREIGN_ARCHES)
def arch(request):
    return request.param


@pytest.fixture
def foreign(arch) -> ForeignBuild:
    needs_root()
    return FOREIGN_BUILDS[arch].result(timeout=FOREIGN_BUILD_TIMEOUT * 2)
