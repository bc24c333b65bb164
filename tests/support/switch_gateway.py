"""The gateway with switches a test can flip: the test device's sane_read status, and the RetrieveImage deadline.

- SANE_WSD_TEST_READ_STATUS names a file. While it exists, its text (e.g.
  ``SANE_STATUS_JAMMED``) is set as the test backend's own
  ``read-return-value`` option before each sane_start, so the real backend
  fails its reads with that status; without the file, ``Default``. A jam can
  so appear, and clear at the next good page, in one gateway.
- SANE_WSD_TEST_DEADLINE: seconds a client has for RetrieveImage, instead of 60.

Everything else is the real gateway on the real test backend.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gateway.scanner import saneapi


class SwitchedDevice:
    def __init__(self, real):
        self._real = real
        self.info = real.info

    def start(self):
        path = os.environ.get("SANE_WSD_TEST_READ_STATUS")
        status = Path(path).read_text().strip() if path and os.path.exists(path) else "Default"
        self._real.set("read-return-value", status or "Default")
        self._real.start()

    def __getattr__(self, name):
        return getattr(self._real, name)


class SwitchedLibrary(saneapi.SaneLibrary):
    def open(self, info):
        return SwitchedDevice(super().open(info))


if __name__ == "__main__":
    from gateway.cli import Parts, main
    deadline = os.environ.get("SANE_WSD_TEST_DEADLINE")
    sys.exit(main(sys.argv[1:], Parts(sane_library=SwitchedLibrary,
                                      retrieve_timeout=float(deadline) if deadline else None)))
