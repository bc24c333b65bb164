"""The gateway with a scanner a test can pull out: the fakes at the python-sane and sysfs boundaries.

- SANE_WSD_TEST_UNPLUGGED names a file. While it exists, the reads of the
  device named in it (``test:1``) wait, as a USB scanner's do once it is
  pulled out, and fail with SANE_STATUS_IO_ERROR after a USB timeout
  (UNPLUGGED_TIMEOUT), so its handle can be closed.
- sysfs: ``test:1`` is on USB port 1-1.2 (what ``inventory.usb_port`` reads
  for a ``libusb:BBB:DDD`` name), so the udev unplug event the test sends for
  that port names it.

Everything else is the real gateway on the real test backend.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gateway import app
from gateway.scanner import saneapi
from gateway.scanner.saneapi import SaneError, Status

UNPLUGGED_TIMEOUT = 3.0
PORTS = {"test:1": "1-1.2"}


def unplugged(name: str) -> bool:
    path = os.environ.get("SANE_WSD_TEST_UNPLUGGED")
    return bool(path) and os.path.exists(path) and Path(path).read_text().strip() == name


class UnpluggableDevice:
    def __init__(self, real):
        self._real = real
        self.info = real.info

    def read_into(self, buffer) -> int:
        waited = time.monotonic()
        while unplugged(self.info.name):
            if time.monotonic() - waited > UNPLUGGED_TIMEOUT:
                raise SaneError(Status.IO_ERROR, "Error during device I/O")
            time.sleep(0.05)
        return self._real.read_into(buffer)

    def __getattr__(self, name):
        return getattr(self._real, name)


class UnpluggableLibrary(saneapi.SaneLibrary):
    def open(self, info):
        return UnpluggableDevice(super().open(info))


if __name__ == "__main__":
    from gateway.cli import Parts, main
    app.usb_port = PORTS.get
    sys.exit(main(sys.argv[1:], Parts(sane_library=UnpluggableLibrary)))
