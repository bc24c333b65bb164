"""The gateway with a scan button: SANE's test device plus a read-only "scan" option, at the python-sane boundary.

The test backend has no button a test can press. This wrapper adds one whose
value is 1 while the file named by SANE_WSD_TEST_BUTTON exists, and a cover
sensor open while SANE_WSD_TEST_COVER exists. Everything else is real.
"""

from __future__ import annotations

import os
import sys

from gateway.scanner import saneapi


def _pressed(variable: str) -> int:
    path = os.environ.get(variable)
    return int(bool(path) and os.path.exists(path))


SENSORS = {
    "scan": (saneapi.TYPE_BOOL, "SANE_WSD_TEST_BUTTON"),
    "cover-open": (saneapi.TYPE_BOOL, "SANE_WSD_TEST_COVER"),
}


class ButtonTestDevice:
    def __init__(self, real):
        self._real = real
        self.info = real.info

    def options(self):
        opts = dict(self._real.options())
        for name, (type_, _var) in SENSORS.items():
            opts[name] = saneapi.OptionInfo(name, name, type_, saneapi.UNIT_NONE, 4,
                                            saneapi.CAP_SOFT_DETECT | saneapi.CAP_HARD_SELECT, None)
        return opts

    def get(self, name):
        if name in SENSORS:
            return _pressed(SENSORS[name][1])
        return self._real.get(name)

    def __getattr__(self, name):
        return getattr(self._real, name)


class ButtonLibrary(saneapi.SaneLibrary):
    def open(self, info):
        return ButtonTestDevice(super().open(info))


if __name__ == "__main__":
    from gateway.cli import Parts, main
    sys.exit(main(sys.argv[1:], Parts(sane_library=ButtonLibrary)))
