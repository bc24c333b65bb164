"""SANE started over in a process of its own, one scenario per run: ``python reinit_scenarios.py NAME CONFIG_DIR``.

SANE's state is the whole process's (and a mistake here is a segfault), so
each scenario runs apart from pytest and prints one JSON line of what it saw.
CONFIG_DIR is a private SANE_CONFIG_DIR with the test backend and a test.conf
the scenario may rewrite.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
from pathlib import Path

from gateway.scanner.saneapi import DevicesStillOpen, SaneLibrary, keep_signal_handling


def set_devices(config: str, n: int) -> None:
    conf = Path(config.rstrip(":")) / "test.conf"
    lines = [line for line in conf.read_text().splitlines() if not line.startswith("number_of_devices")]
    conf.write_text("\n".join(lines + [f"number_of_devices {n}"]) + "\n")


def scan(library: SaneLibrary, name: str) -> int:
    """A small grey frame from ``name``; the bytes read."""
    info = next(d for d in library.devices() if d.name == name)
    dev = library.open(info)
    try:
        return scan_open(dev)
    finally:
        dev.close()


def scan_open(dev) -> int:
    dev.set("mode", "Gray")
    dev.set("resolution", 75)
    dev.set("br-x", 20.0)
    dev.set("br-y", 20.0)
    dev.start()
    total, buf = 0, bytearray(4096)
    while n := dev.read_into(buf):
        total += n
    dev.cancel()
    return total


def count(config: str) -> dict:
    library = SaneLibrary(config)
    at_start = len(library.devices())
    set_devices(config, 4)
    without = len(library.devices())
    after = [d.name for d in library.reinitialise()]
    return {"at_start": at_start, "without_reinit": without, "after_reinit": after}


def refused_while_open(config: str) -> dict:
    library = SaneLibrary(config)
    dev = library.open(next(d for d in library.devices() if d.name == "test:0"))
    try:
        library.reinitialise()
        refused = None
    except DevicesStillOpen as e:
        refused = {"names": e.names, "message": str(e)}
    still_scans = scan_open(dev)
    dev.close()
    after_close = len(library.reinitialise())
    return {"refused": refused, "open_device_still_scans": still_scans, "after_close": after_close}


def scan_after(config: str) -> dict:
    library = SaneLibrary(config)
    before = scan(library, "test:0")
    set_devices(config, 3)
    library.reinitialise()
    return {"before": before, "new_device": scan(library, "test:2"), "old_device": scan(library, "test:0")}


def dropped_unclosed(config: str) -> dict:
    library = SaneLibrary(config)
    dev = library.open(next(d for d in library.devices() if d.name == "test:0"))
    del dev
    gc.collect()
    return {"open": library.open_devices, "after": len(library.reinitialise())}


def signals_kept(config: str) -> dict:
    def ours(signum, frame):
        pass
    signal.signal(signal.SIGTERM, ours)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    keep_signal_handling()
    library = SaneLibrary(config)
    scan(library, "test:0")
    library.reinitialise()
    scan(library, "test:0")
    return {"SIGTERM": signal.getsignal(signal.SIGTERM) is ours,
            "SIGPIPE": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN}


SCENARIOS = {f.__name__: f for f in (count, refused_while_open, scan_after, dropped_unclosed, signals_kept)}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](sys.argv[2])), flush=True)
