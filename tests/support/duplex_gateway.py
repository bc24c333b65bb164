"""The gateway with a duplex feeder: SANE's test device behind a small fake at the python-sane boundary.

SANE's test backend has no duplex source. This wrapper adds one ("ADF Duplex")
to the real device's source list and scans it from the real feeder, one
sane_start per side, as a duplex backend does. Everything else is real.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from gateway.scanner import saneapi

DUPLEX = "ADF Duplex"
FEEDER = "Automatic Document Feeder"


class DuplexTestDevice:
    def __init__(self, real):
        self._real = real
        self.info = real.info
        self._duplex = False

    def options(self):
        opts = self._real.options()
        source = opts["source"]
        opts["source"] = replace(source, constraint=list(source.constraint) + [DUPLEX])
        return opts

    def get(self, name):
        if name == "source" and self._duplex:
            return DUPLEX
        return self._real.get(name)

    def set(self, name, value):
        if name == "source":
            self._duplex = value == DUPLEX
            value = FEEDER if self._duplex else value
        self._real.set(name, value)

    def __getattr__(self, name):
        return getattr(self._real, name)


class DuplexLibrary(saneapi.SaneLibrary):
    def open(self, info):
        return DuplexTestDevice(super().open(info))


if __name__ == "__main__":
    from gateway.cli import Parts, main
    sys.exit(main(sys.argv[1:], Parts(sane_library=DuplexLibrary)))
