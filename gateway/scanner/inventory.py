"""Which SANE devices to serve (and the SANE configuration that finds them), and a UUID for each that
survives restarts.

Windows remembers a WSD scanner by its endpoint UUID: a new UUID at every
boot would make a new scanner appear every time. The UUID is keyed on what
identifies the physical device best: the USB vendor, product and serial
number where sysfs tells them; for a scanner without a serial number, the USB
port it is plugged into (two look-alike scanners stay apart, and each keeps
its UUID when plugged back into the same port); else the SANE device name.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twisted.logger import Logger

from gateway.scanner.saneapi import DeviceInfo
from gateway.statefiles import JsonStateFile, StateFileError, write_if_changed

log = Logger()

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
    """usb:VVVV:PPPP:SERIAL for names like ``epson2:libusb:001:004``, if sysfs has the device;
    usb:VVVV:PPPP:@PORT (the port path, e.g. 1-1.2) when it has no serial number. The bus and device
    numbers in the SANE name change at every re-plug, so they are never part of it."""
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
            return f"usb:{vendor}:{product}:{serial or '@' + entry.name}"
        except (OSError, ValueError):
            continue
    return None


def usb_port(sane_name: str, sysfs: Path = SYSFS_USB) -> str | None:
    """The USB port path (e.g. ``1-1.2``) of a device named like ``epson2:libusb:001:004``, if sysfs has it:
    an unplug event names the port, even when it no longer tells the serial number."""
    m = re.search(r"libusb:(\d{3}):(\d{3})", sane_name)
    if not m or not sysfs.is_dir():
        return None
    for entry in sysfs.iterdir():
        try:
            if (int((entry / "busnum").read_text()), int((entry / "devnum").read_text())) == (
                    int(m.group(1)), int(m.group(2))):
                return entry.name
        except (OSError, ValueError):
            continue
    return None


def identity(info: DeviceInfo) -> str:
    return usb_identity(info.name) or f"sane:{info.name}"


class UuidStore(JsonStateFile):
    """identity -> UUID."""

    filename = "devices.json"
    lost = ("every scanner gets a new UUID, so PCs will see new scanners; to keep the old ones, "
            "repair that file, move it back and restart")

    def uuid_for(self, key: str) -> str:
        legacy = _legacy_key(key)
        if legacy is not None and not _is_uuid(self._map.get(key)) and _is_uuid(self._map.get(legacy)):
            # Before look-alikes were told apart by port, a scanner without a serial was "usb:V:P:":
            # the first one found keeps the UUID Windows knows it by.
            self._map[key] = self._map.pop(legacy)
            self._save()
        if not _is_uuid(self._map.get(key)):
            self._map[key] = str(uuid.uuid4())
            self._save()
        elif self.unsaved:
            self._save()
        return self._map[key]


def _legacy_key(key: str) -> str | None:
    """The key an identity without a serial had before ports told look-alikes apart."""
    head, at, _port = key.partition(":@")
    return head + ":" if at and key.startswith("usb:") else None


def _is_uuid(value) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value) is not None
    except ValueError:
        return False



def _backend_names(path: Path) -> list[str]:
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except OSError:
        return []
    return [b for b in lines if b and not b.startswith("#")]


def sane_config_dir(state_dir: Path, with_test_backend: bool, backends: Sequence[str] = (),
                    system_dir: Path = Path("/etc/sane.d")) -> str:
    """A SANE_CONFIG_DIR listing the given backends, or the system's local ones (plus ``test``).

    The trailing colon makes SANE search its default directories after ours,
    so every real backend keeps its own configuration; our ``dll.d`` is the
    one SANE reads, and it leaves the network backends out. An existing
    ``test.conf`` is left as it is: edit it to change the test device.
    """
    ours = Path(state_dir) / "sane.d"
    wanted: dict[str, str] = {}
    if backends:
        dll_conf = "\n".join(backends) + "\n"
    else:
        if (system_dir / "dll.d").is_dir():
            for entry in (system_dir / "dll.d").iterdir():
                names = [b for b in _backend_names(entry) if b not in NETWORK_BACKENDS]
                if names:
                    wanted[entry.name] = "\n".join(names) + "\n"
        chosen = [b for b in _backend_names(system_dir / "dll.conf") if b != "test" and b not in NETWORK_BACKENDS]
        dll_conf = "\n".join(chosen + (["test"] if with_test_backend else [])) + "\n"
    # Files are rewritten only when they change: a full card still starts with last time's files.
    try:
        (ours / "dll.d").mkdir(parents=True, exist_ok=True)
        for old in (ours / "dll.d").iterdir():
            if old.name not in wanted:
                old.unlink()
        for name, text in wanted.items():
            write_if_changed(ours / "dll.d" / name, text, 0o600)
        if with_test_backend and not (ours / "test.conf").exists():
            write_if_changed(ours / "test.conf", TEST_BACKEND_CONF, 0o600)
        write_if_changed(ours / "dll.conf", dll_conf, 0o600)
    except OSError as e:
        raise StateFileError(f"cannot write {ours}: {e.strerror or e}") from e
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
