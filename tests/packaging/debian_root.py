"""Clean Debian roots (debootstrap minbase, cached as tarballs) and commands run inside copies of them.

Debian 12 for this machine's architecture, Debian 12 for arm64 and armhf (run
through qemu-user-static and binfmt_misc, as a Raspberry Pi would run them
natively), and Debian 13 (the next release, for the upgrade path).

Every command runs in its own private mount namespace (``unshare --mount``):
the bind mounts of /dev, /proc and the apt archive cache vanish with it, so a
crashed test never leaves a mount behind, and deleting a root can never reach
the host's /dev.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

CACHE = Path(os.environ.get("SANE_WSD_GATEWAY_TEST_CACHE", "/var/cache/sane-wsd-gateway-tests"))
TARBALL = CACHE / "bookworm-root.tar"
ARCHIVES = CACHE / "apt-archives"  # downloaded .debs of the native bookworm roots, shared by every copy
MAX_AGE = 7 * 24 * 3600  # then debootstrap again, for the point release's packages
DEBOOTSTRAP_TIMEOUT = 900
FOREIGN_DEBOOTSTRAP_TIMEOUT = 1800  # the second stage runs every maintainer script under qemu
APT_TIMEOUT = 900
BACKGROUND_APT_TIMEOUT = 2700  # apt under qemu, at idle priority beside the rest of the suite
# Work that runs beside other tests (the foreign builds): it takes only the CPU and disk they leave.
BACKGROUND = ["nice", "-n", "19", "ionice", "-c", "2", "-n", "7"]
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
# binfmt_misc entries of qemu-user-static (package qemu-user-static) by Debian architecture.
QEMU = {"arm64": "qemu-aarch64", "armhf": "qemu-arm"}


def host_mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror this machine's apt uses (one-line or deb822 sources)."""
    suites: dict[str, str] = {}
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if "deb" not in fields.get("Types", "").split():
                    continue
                for uri in fields.get("URIs", "").split():
                    for suite in fields.get("Suites", "").split():
                        suites.setdefault(suite, uri.rstrip("/"))
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    suites.setdefault(m.group(2), m.group(1).rstrip("/"))
    return suites.get("bookworm", DEFAULT_MIRROR), suites.get("bookworm-security", DEFAULT_SECURITY)


def native_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()


def ensure_binfmt(arch: str) -> None:
    """Make the kernel run ``arch`` binaries through qemu-user-static, even inside a chroot."""
    misc = Path("/proc/sys/fs/binfmt_misc")
    if not (misc / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(misc)], check=True, capture_output=True,
                       timeout=30)
    entry = misc / QEMU[arch]
    if not entry.exists():
        subprocess.run(["update-binfmts", "--enable", QEMU[arch]], check=True, capture_output=True, timeout=30)
    text = entry.read_text()
    # F: the kernel opens the interpreter now, so the chroot needs no copy of qemu.
    assert text.startswith("enabled") and re.search(r"^flags: \w*F", text, re.M), \
        f"{entry} cannot run {arch} programs in a chroot (needs qemu-user-static's entry, enabled, flag F):\n{text}"


def _sources(suite: str, mirror: str, security: str) -> str:
    return (f"deb {mirror} {suite} main\n"
            f"deb {mirror} {suite}-updates main\n"
            f"deb {security} {suite}-security main\n")


def _cached(name: str, make: Callable[[Path], None]) -> Path:
    """``CACHE/name``, a tarball of the root ``make(directory)`` fills, made once (under a lock, so parallel
    tests wait for one build) and reused for a week."""
    tarball = CACHE / name
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".lock-{name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists() and time.time() - tarball.stat().st_mtime < MAX_AGE:
            return tarball
        work = CACHE / f"{name}.new.d"
        shutil.rmtree(work, ignore_errors=True)
        make(work)
        subprocess.run(["tar", "-C", str(work), "-cf", str(tarball) + ".new", "."],
                       check=True, capture_output=True, timeout=300)
        os.replace(str(tarball) + ".new", tarball)
        shutil.rmtree(work, ignore_errors=True)
        return tarball


def cached_tarball(suite: str = "bookworm", arch: str | None = None) -> Path:
    """The debootstrapped root of ``suite`` for ``arch`` (default: this machine's) as a cached tarball."""
    foreign = arch is not None and arch != native_arch()
    name = f"{suite}-{arch}-root.tar" if foreign else f"{suite}-root.tar"
    return _cached(name, lambda work: _debootstrap(work, suite, arch if foreign else None))


def _debootstrap(work: Path, suite: str, arch: str | None) -> None:
    mirror, security = host_mirrors()
    if arch is not None:
        # The first stage unpacks on this machine; the second runs the
        # packages' own scripts, as arch programs, through qemu.
        ensure_binfmt(arch)
        subprocess.run([*BACKGROUND, "debootstrap", f"--arch={arch}", "--foreign", "--variant=minbase", suite,
                        str(work), mirror], check=True, capture_output=True, timeout=DEBOOTSTRAP_TIMEOUT)
        subprocess.run([*BACKGROUND, "unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount -t proc proc "$1/proc" && exec chroot "$1" /debootstrap/debootstrap --second-stage',
                        "sh", str(work)], check=True, capture_output=True, timeout=FOREIGN_DEBOOTSTRAP_TIMEOUT)
    else:
        subprocess.run(["debootstrap", "--variant=minbase", suite, str(work), mirror],
                       check=True, capture_output=True, timeout=DEBOOTSTRAP_TIMEOUT)
    (work / "etc/apt/sources.list").write_text(_sources(suite, mirror, security))


def archives_for(suite: str, arch: str) -> Path:
    """apt's download cache for roots of ``suite`` and ``arch``."""
    if suite == "bookworm" and arch == native_arch():
        return ARCHIVES
    return CACHE / f"apt-archives-{suite}-{arch}"


def control_names(control: Path, field: str, package: str | None = None) -> list[str]:
    """The package names in ``field`` of debian/control (the source stanza, or ``package``'s), without
    versions, architecture qualifiers or substitution variables."""
    for stanza in re.split(r"\n\s*\n", control.read_text()):
        wanted = f"Package: {package}\n" if package else "Source: "
        if not stanza.lstrip("\n").startswith(wanted):
            continue
        m = re.search(rf"^{field}:((?:.*\n?)(?:[ \t].*\n?)*)", stanza, re.M)
        if m:
            names = (re.split(r"[\s(:\[]", d.strip())[0] for d in m.group(1).split(","))
            return [n for n in names if n and not n.startswith("${")]
    return []


def prepared_tarball(arch: str, debian_dir: Path) -> Path:
    """A Debian 12 root for ``arch`` with git, dpkg-dev, the build dependencies and the runtime
    dependencies of ``debian_dir``/control already installed, cached like the clean roots.

    Under qemu, installing them is most of the time a foreign build takes. A root made from an older
    control file is still right, only slower: build-deb installs whatever build dependency is new, and
    apt whatever new dependency the package declares."""
    def make(work: Path) -> None:
        root = DebianRoot(work, cached_tarball("bookworm", arch), archives_for("bookworm", arch), background=True)
        try:
            # Test roots only: no man page index, no fsync after every file.
            root.file("/etc/dpkg/dpkg.cfg.d/unsafe-io").write_text("force-unsafe-io\n")
            root.run(["sh", "-c", "echo 'man-db man-db/auto-update boolean false' | debconf-set-selections"])
            root.file("/tmp/prepare/debian").mkdir(parents=True)
            for name in ("control", "changelog"):
                shutil.copy(debian_dir / name, root.file(f"/tmp/prepare/debian/{name}"))
            root.apt_get("update")
            root.apt_get("build-dep", "--no-install-recommends", "/tmp/prepare")
            runtime = control_names(debian_dir / "control", "Depends", "sane-wsd-gateway")
            root.apt_get("install", "--no-install-recommends", "git", "dpkg-dev", *runtime)
            shutil.rmtree(root.file("/tmp/prepare"))
        finally:
            root.stop()

    return _cached(f"bookworm-{arch}-build-root.tar", make)


class DebianRoot:
    """A private copy of the cached root: ``root.run([...])`` runs a command chrooted into it."""

    def __init__(self, path: Path, tarball: Path | None = None, archives: Path = ARCHIVES,
                 background: bool = False):
        """A copy of ``tarball`` (default: the native Debian 12 root); apt keeps its downloads in
        ``archives``, one directory (and one lock) per suite and architecture. ``background``: every
        command runs at idle priority (see BACKGROUND)."""
        self.background = background
        self.path = Path(path)
        self.path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(self.path), "-xf", str(tarball or cached_tarball())],
                       check=True, capture_output=True, timeout=300)
        shutil.copy("/etc/resolv.conf", self.path / "etc/resolv.conf")
        self.archives = Path(archives)
        self.archives.joinpath("partial").mkdir(parents=True, exist_ok=True)
        self._procs: list[subprocess.Popen] = []

    def _argv(self, command: list[str], env: dict[str, str] | None) -> list[str]:
        mounts = (
            'mount --rbind /dev "$R/dev" && mount -t proc proc "$R/proc" && '
            'mount --bind "$A" "$R/var/cache/apt/archives" && '
            'exec chroot "$R" /usr/bin/env -i "$@"'
        )
        envs = [f"{k}={v}" for k, v in {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root", **(env or {}),
        }.items()]
        prefix = BACKGROUND if self.background else []
        return [*prefix, "unshare", "--mount", "--propagation", "private", "sh", "-c", mounts, "sh", *envs, *command]

    def _env(self) -> dict[str, str]:
        return dict(os.environ, R=str(self.path), A=str(self.archives))

    def run(self, command: list[str], timeout: float = 120, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(self._argv(command, env), env=self._env(), capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{command} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                                 f"{result.stderr[-3000:]}")
        return result

    def popen(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a command in the background; stopped by ``close()`` at the latest."""
        with open(log, "w") as out:
            proc = subprocess.Popen(self._argv(command, env), env=self._env(), stdout=out,
                                    stderr=subprocess.STDOUT)
        self._procs.append(proc)
        return proc

    @contextlib.contextmanager
    def apt_lock(self):
        """The archive cache is shared with other roots and test sessions: one apt at a time."""
        with open(self.archives.parent / f".apt-lock-{self.archives.name}", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def apt_get(self, *args: str) -> subprocess.CompletedProcess:
        with self.apt_lock():
            return self.run(["apt-get", "-y", "-q", *args],
                            timeout=BACKGROUND_APT_TIMEOUT if self.background else APT_TIMEOUT)

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.path, ignore_errors=True)

    def stop(self) -> None:
        """End what still runs in the root and check nothing is mounted in it; the files stay."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if line.split()[4].startswith(str(self.path) + "/")]
        if mounted:
            raise RuntimeError(f"not deleting {self.path}: still mounted: {mounted}")
