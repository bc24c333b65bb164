"""The gateway with a scanner that can stop answering: SANE's test device, a small fake at the python-sane boundary.

While the file named by SANE_WSD_TEST_STUCK exists, a read after the first
one of a page blocks, as a USB read does when the scanner hangs (on every
device, or on the one named after the mode):

* file content ``until-cancel``: the read returns when sane_cancel is called
  (what SANE promises, and what the test backend does for a reader thread
  that died);
* file content ``forever``: the read ignores the cancel too and returns only
  once the file is removed (a scanner that comes back later).

Everything else is the real test device.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from gateway.scanner import saneapi


def _mode(device: str) -> str | None:
    """The file holds the mode, and optionally the one SANE device it applies to: "until-cancel test:0"."""
    path = os.environ.get("SANE_WSD_TEST_STUCK")
    try:
        with open(path) as f:
            words = f.read().split()
    except (OSError, TypeError):
        return None
    if len(words) > 1 and words[1] != device:
        return None
    return words[0] if words else "until-cancel"


class StuckTestDevice:
    def __init__(self, real):
        self._real = real
        self.info = real.info
        self._cancelled = threading.Event()
        self._reads = 0

    def start(self):
        self._cancelled.clear()
        self._reads = 0
        self._real.start()

    def read_into(self, buffer):
        self._reads += 1
        mode = _mode(self.info.name) if self._reads > 1 else None
        if mode == "until-cancel":
            self._cancelled.wait()
            raise saneapi.SaneError(saneapi.Status.CANCELLED, "Operation was cancelled")
        if mode == "forever":
            while _mode(self.info.name) == "forever":
                time.sleep(0.05)
            raise saneapi.SaneError(saneapi.Status.IO_ERROR, "Error during device I/O")
        return self._real.read_into(buffer)

    def cancel(self):
        self._cancelled.set()
        self._real.cancel()

    def __getattr__(self, name):
        return getattr(self._real, name)


class StuckLibrary(saneapi.SaneLibrary):
    def open(self, info):
        return StuckTestDevice(super().open(info))


if __name__ == "__main__":
    from gateway.cli import Parts, main
    sys.exit(main(sys.argv[1:], Parts(sane_library=StuckLibrary)))
