"""A clean Debian 12 root (debootstrap minbase, cached as a tarball) and commands run inside copies of it.

Every command runs in its own private mount namespace (``unshare --mount``):
the bind mounts of /dev, /proc and the apt archive cache vanish with it, so a
crashed test never leaves a mount behind, and deleting a root can never reach
the host's /dev.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

CACHE = Path(os.environ.get("SANE_WSD_GATEWAY_TEST_CACHE", "/var/cache/sane-wsd-gateway-tests"))
TARBALL = CACHE / "bookworm-root.tar"
ARCHIVES = CACHE / "apt-archives"  # downloaded .debs, shared by every copy
MAX_AGE = 7 * 24 * 3600  # then debootstrap again, for the point release's packages
DEBOOTSTRAP_TIMEOUT = 900
APT_TIMEOUT = 900
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"


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


def cached_tarball() -> Path:
    """The debootstrapped root as a tarball, made once (under a lock) and reused."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if TARBALL.exists() and time.time() - TARBALL.stat().st_mtime < MAX_AGE:
            return TARBALL
        mirror, security = host_mirrors()
        work = CACHE / "bookworm-root.new"
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(work), mirror],
                       check=True, capture_output=True, timeout=DEBOOTSTRAP_TIMEOUT)
        (work / "etc/apt/sources.list").write_text(
            f"deb {mirror} bookworm main\n"
            f"deb {mirror} bookworm-updates main\n"
            f"deb {security} bookworm-security main\n")
        subprocess.run(["tar", "-C", str(work), "-cf", str(TARBALL) + ".new", "."],
                       check=True, capture_output=True, timeout=300)
        os.replace(str(TARBALL) + ".new", TARBALL)
        shutil.rmtree(work)
        return TARBALL


class DebianRoot:
    """A private copy of the cached root: ``root.run([...])`` runs a command chrooted into it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(self.path), "-xf", str(cached_tarball())],
                       check=True, capture_output=True, timeout=300)
        shutil.copy("/etc/resolv.conf", self.path / "etc/resolv.conf")
        ARCHIVES.joinpath("partial").mkdir(parents=True, exist_ok=True)
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
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts, "sh", *envs, *command]

    def _env(self) -> dict[str, str]:
        return dict(os.environ, R=str(self.path), A=str(ARCHIVES))

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

    def apt_get(self, *args: str) -> subprocess.CompletedProcess:
        # The archive cache is shared with other test sessions' roots: one apt at a time.
        with open(CACHE / ".apt-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self.run(["apt-get", "-y", "-q", *args], timeout=APT_TIMEOUT)

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def close(self) -> None:
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
        shutil.rmtree(self.path, ignore_errors=True)
