"""Which SANE devices to serve, and a UUID for each that survives restarts.

Windows remembers a WSD scanner by its endpoint UUID: a new UUID at every
boot would make a new scanner appear every time. The UUID is keyed on what
identifies the physical device best: the USB vendor, product and serial
number where sysfs tells them, else the SANE device name.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.scanner.saneapi import DeviceInfo

SYSFS_USB = Path("/sys/bus/usb/devices")
NETWORK_BACKENDS = frozenset({"net", "airscan", "escl"})
"""Never served: a network scanner is already on the network, and airscan would find the gateway itself."""
TEST_BACKEND_CONF = "geometry_max 300.0\n"
"""SANE's test device defaults to 200 mm, which cannot hold A4; the gateway gives it 300 mm."""


@dataclass(frozen=True)
class ServedDevice:
    info: DeviceInfo
    uuid: str
    identity: str

    @property
    def is_test(self) -> bool:
        return self.info.name.startswith("test:")


def usb_identity(sane_name: str, sysfs: Path = SYSFS_USB) -> str | None:
    """usb:VVVV:PPPP:SERIAL for names like ``epson2:libusb:001:004``, if sysfs has the device."""
    m = re.search(r"libusb:(\d{3}):(\d{3})", sane_name)
    if not m or not sysfs.is_dir():
        return None
    bus, dev = int(m.group(1)), int(m.group(2))
    for entry in sysfs.iterdir():
        try:
            if int((entry / "busnum").read_text()) != bus or int((entry / "devnum").read_text()) != dev:
                continue
            vendor = (entry / "idVendor").read_text().strip()
            product = (entry / "idProduct").read_text().strip()
            serial_file = entry / "serial"
            serial = serial_file.read_text().strip() if serial_file.exists() else ""
            return f"usb:{vendor}:{product}:{serial}"
        except (OSError, ValueError):
            continue
    return None


def identity(info: DeviceInfo) -> str:
    return usb_identity(info.name) or f"sane:{info.name}"


class _JsonState:
    """A small mapping kept as one JSON file in the state directory, replaced atomically."""

    filename = ""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / self.filename
        try:
            self._map = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self._map = {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}-")
        with os.fdopen(fd, "w") as f:
            json.dump(self._map, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


class UuidStore(_JsonState):
    """identity -> UUID."""

    filename = "devices.json"

    def uuid_for(self, key: str) -> str:
        if key not in self._map:
            self._map[key] = str(uuid.uuid4())
            self._save()
        return self._map[key]



def _backend_names(path: Path) -> list[str]:
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except OSError:
        return []
    return [b for b in lines if b and not b.startswith("#")]


class MetadataVersions(_JsonState):
    """A counter per device that rises whenever what it tells clients about itself changes.

    WS-Discovery carries it as MetadataVersion, and Windows fetches the
    metadata again only when it rises, so it must survive restarts.
    """

    filename = "metadata.json"

    def version(self, uuid: str, fingerprint: str) -> int:
        entry = self._map.get(uuid)
        if entry is None or entry.get("fingerprint") != fingerprint:
            entry = {"version": (entry or {}).get("version", 0) + 1, "fingerprint": fingerprint}
            self._map[uuid] = entry
            self._save()
        return entry["version"]


def sane_config_dir(state_dir: Path, with_test_backend: bool, backends: Sequence[str] = (),
                    system_dir: Path = Path("/etc/sane.d")) -> str:
    """A SANE_CONFIG_DIR listing the given backends, or the system's local ones (plus ``test``).

    The trailing colon makes SANE search its default directories after ours,
    so every real backend keeps its own configuration; our ``dll.d`` is the
    one SANE reads, and it leaves the network backends out. An existing
    ``test.conf`` is left as it is: edit it to change the test device.
    """
    ours = Path(state_dir) / "sane.d"
    (ours / "dll.d").mkdir(parents=True, exist_ok=True)
    for old in (ours / "dll.d").iterdir():
        old.unlink()
    if with_test_backend and not (ours / "test.conf").exists():
        (ours / "test.conf").write_text(TEST_BACKEND_CONF)
    if backends:
        (ours / "dll.conf").write_text("\n".join(backends) + "\n")
        return f"{ours}:"
    if (system_dir / "dll.d").is_dir():
        for entry in (system_dir / "dll.d").iterdir():
            names = [b for b in _backend_names(entry) if b not in NETWORK_BACKENDS]
            if names:
                (ours / "dll.d" / entry.name).write_text("\n".join(names) + "\n")
    chosen = [b for b in _backend_names(system_dir / "dll.conf") if b != "test" and b not in NETWORK_BACKENDS]
    (ours / "dll.conf").write_text("\n".join(chosen + (["test"] if with_test_backend else [])) + "\n")
    return f"{ours}:"


def choose(found: list[DeviceInfo], store: UuidStore, test_device: str, exclude: list[str] = ()) -> list[ServedDevice]:
    """The devices to serve. ``test_device``: auto (only when no real scanner), yes, no."""
    real = [d for d in found if not d.name.startswith("test:")]
    wanted = []
    for d in found:
        if any(fnmatch.fnmatch(d.name, pattern) for pattern in exclude):
            continue
        is_test = d.name.startswith("test:")
        if is_test and (test_device == "no" or (test_device == "auto" and real)):
            continue
        if is_test and test_device == "auto" and d.name != "test:0":
            continue
        wanted.append(d)
    return [ServedDevice(d, store.uuid_for(identity(d)), identity(d)) for d in wanted]
