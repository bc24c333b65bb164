"""avahi-daemon inside a lab namespace, on that namespace's private system bus.

Each daemon runs in a mount namespace of its own with a fresh /run, since
avahi-daemon insists on one pid file (/run/avahi-daemon/pid) per machine and
the lab runs one per namespace. Its host name is given, so two daemons on one
machine do not fight over the machine's. Usage::

    with private_system_bus(lab, lab.pi, tmp) as env, AvahiDaemon(lab, lab.pi, lab.pi_if, tmp, env, "pi") as avahi:
        ...
        avahi.stop(); avahi.start()   # a restart, as the gateway sees one
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from netns import Lab, LineWatcher

START_TIMEOUT = 15
_CONFIG = """[server]
host-name={host}
use-ipv4=yes
use-ipv6={ipv6}
allow-interfaces={interface}
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no

[reflector]
[rlimits]
"""


class AvahiDaemon:
    def __init__(self, lab: Lab, ns: str, interface: str, directory: Path, env: dict[str, str], host: str,
                 ipv6: bool = True):
        self.lab, self.ns, self.env, self.host = lab, ns, env, host
        self.config = Path(directory) / f"avahi-{host}.conf"
        self.config.write_text(_CONFIG.format(host=host, ipv6="yes" if ipv6 else "no", interface=interface))
        self.proc: subprocess.Popen | None = None
        self.output: LineWatcher | None = None

    def start(self) -> None:
        command = ("mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits "
                   f"--no-proc-title -f {self.config}")
        self.proc = self.lab.popen_in(self.ns, ["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                                      env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.output = LineWatcher(self.proc.stderr)
        if not self.output.wait_for(lambda lines: any("Server startup complete" in ln for ln in lines),
                                    timeout=START_TIMEOUT):
            self.stop()
            raise RuntimeError("avahi-daemon did not start:\n" + "\n".join(self.output.lines))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> "AvahiDaemon":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _unescape(label: str) -> str:
    """avahi-browse -p escapes a name's bytes as \\DDD (decimal) and . and \\ as \\. and \\\\."""
    raw = re.sub(rb"\\(\d{3})", lambda m: bytes([int(m.group(1))]), label.encode())
    return re.sub(rb"\\(.)", rb"\1", raw).decode("utf-8", errors="replace")


def _txt(field: str) -> dict[str, str]:
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in re.findall(r'"((?:[^"\\]|\\.)*)"', field))


def browse(lab: Lab, ns: str, env: dict[str, str], service_type: str = "_uscan._tcp",
           timeout: float = 20) -> dict[str, dict]:
    """Resolved services of ``service_type`` that ``avahi-browse -rpt`` sees from ``ns``: name -> what it found
    (``host``, ``port``, ``txt``, ``addresses``, ``interfaces``)."""
    done = lab.run_in(ns, ["avahi-browse", "-rpt", service_type], env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"avahi-browse failed: {done.stderr}")
    found: dict[str, dict] = {}
    for line in done.stdout.splitlines():
        fields = line.split(";", 9)
        if fields[0] != "=" or len(fields) < 10:
            continue
        name = _unescape(fields[3])
        entry = found.setdefault(name, {"host": fields[6], "port": int(fields[8]), "txt": _txt(fields[9]),
                                        "addresses": set(), "interfaces": set()})
        entry["addresses"].add(fields[7])
        entry["interfaces"].add(fields[1])
    return found
