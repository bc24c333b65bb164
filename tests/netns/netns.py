"""Two hosts on one machine for discovery tests: namespaces "pc" and "pi" on a veth pair.

Everything lives inside namespaces the lab creates (the veth ends are created
directly in them), so nothing touches the host's own network; deleting the
namespaces removes it all. Usage::

    with pc_pi() as lab:
        proc = lab.popen_in(lab.pi, [sys.executable, "tests/netns/announcer.py", "--interface", lab.pi_if])
        lab.run_in(lab.pc, ["ip", "addr"], timeout=5)

Names carry the pid (``swgt<pid>-<n>-pc``) so parallel runs do not collide, and
namespaces of runs whose process is gone are removed by ``clean_stale``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "swgt"
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
"""The interpreter running the tests (the project's virtual environment), for subprocesses too."""
_counter = itertools.count()


def unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    return None


def _ip(*args: str, timeout: float = 10, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout, check=check)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[str]:
    """Remove our namespaces left behind by runs that crashed; return their names."""
    removed = []
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}(\d+)-\d+-\w+", name)
        if m and not _pid_alive(int(m.group(1))):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Python subprocesses: the repository importable, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Lab:
    pc: str
    pi: str
    pc_if: str = "veth-pc"
    pi_if: str = "veth-pi"
    subnet: str = "10.213.0"
    prefixlen: int = 24
    extra_namespaces: list[str] = field(default_factory=list)
    _procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def pc_addr(self) -> str:
        return f"{self.subnet}.1"

    @property
    def pi_addr(self) -> str:
        return f"{self.subnet}.2"

    def run_in(self, ns: str, argv: Sequence[str], *, timeout: float = 30, check: bool = True,
               **kwargs) -> subprocess.CompletedProcess:
        """Run ``argv`` in namespace ``ns`` to completion (text output captured)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("env", python_env())
        return subprocess.run(["ip", "netns", "exec", ns, *argv], timeout=timeout, check=check, **kwargs)

    def popen_in(self, ns: str, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` in ``ns``; it is killed when the lab closes if still running."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        kwargs.setdefault("env", python_env())
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)
        self._procs.append(proc)
        return proc

    def ip(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _ip("-n", ns, *args, check=check)

    def link_local(self, ns: str, ifname: str, timeout: float = 5) -> str:
        """The interface's IPv6 link-local address once it is usable (DAD is off in the lab)."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.ip(ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link").stdout
            m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 scope link(?! tentative)", out)
            if m:
                return m.group(1)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no link-local address on {ns}/{ifname}: {out!r}")
            time.sleep(0.05)

    def add_namespace(self, role: str) -> str:
        """One more namespace of this lab, removed with it."""
        name = self.pc.rsplit("-", 1)[0] + f"-{role}"
        _add_namespace(name)
        self.extra_namespaces.append(name)
        return name

    def stop_processes(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()


def _add_namespace(name: str) -> None:
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    for conf in ("all", "default"):
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w", f"net.ipv6.conf.{conf}.accept_dad=0"],
                       capture_output=True, timeout=10, check=False)


@contextmanager
def pc_pi(subnet: str = "10.213.0") -> Iterator[Lab]:
    """Namespaces pc (``subnet``.1/24) and pi (``subnet``.2/24) on a veth pair, with multicast routes."""
    clean_stale()
    base = f"{PREFIX}{os.getpid()}-{next(_counter)}"
    lab = Lab(pc=f"{base}-pc", pi=f"{base}-pi", subnet=subnet)
    created = []
    try:
        for ns in (lab.pc, lab.pi):
            _add_namespace(ns)
            created.append(ns)
        _ip("link", "add", lab.pc_if, "netns", lab.pc, "type", "veth", "peer", "name", lab.pi_if, "netns", lab.pi)
        for ns, ifname, addr in ((lab.pc, lab.pc_if, lab.pc_addr), (lab.pi, lab.pi_if, lab.pi_addr)):
            lab.ip(ns, "addr", "add", f"{addr}/{lab.prefixlen}", "dev", ifname)
            lab.ip(ns, "link", "set", ifname, "up")
            lab.ip(ns, "route", "add", "224.0.0.0/4", "dev", ifname)
        yield lab
    finally:
        lab.stop_processes()
        for ns in [*created, *lab.extra_namespaces]:
            _ip("netns", "del", ns, check=False)


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


@contextmanager
def private_system_bus(lab: Lab, ns: str, directory: Path) -> Iterator[dict[str, str]]:
    """A dbus-daemon of our own in ``ns``: airscan-discover finds nothing without a system bus.

    Yields the environment (``DBUS_SYSTEM_BUS_ADDRESS`` set) to run clients with.
    """
    socket_path = directory / "system_bus"
    config = directory / "system_bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket_path))
    proc = lab.popen_in(ns, ["dbus-daemon", "--config-file", str(config), "--nofork", "--print-address"])
    try:
        ready = LineWatcher(proc.stdout).wait_for(lambda lines: bool(lines), timeout=10)
        if not ready:
            raise RuntimeError(f"dbus-daemon did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        yield python_env({"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket_path}"})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class LineWatcher:
    """Collects a process's output lines in a thread, so tests can wait for one with a timeout."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_for(self, done, timeout: float) -> bool:
        """Wait until ``done(lines)`` is true; False on timeout or end of output."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return done(self.lines)
                self._cond.wait(left)
            return True


if __name__ == "__main__":
    print("removed:", clean_stale(), file=sys.stderr)
