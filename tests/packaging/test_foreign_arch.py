"""The package built on a Raspberry Pi's architectures, arm64 and armhf, in Debian 12 roots run
through qemu-user-static: built by build-deb, installed with apt, and scanned through from this
machine with sane-airscan.

Each architecture is built once per session, both at once (see conftest.foreign_builds).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import __version__
from tests.packaging.serving import InstalledGateway

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]

ROOT_PYTHON_TIMEOUT = 300
# readelf -h: the ELF class and machine of each Debian architecture.
ELF = {"arm64": ("ELF64", "AArch64"), "armhf": ("ELF32", "ARM")}
# 100 mm at 150 dpi.
SIDE = round(100 / 25.4 * 150)
# Encodes one fixed raster with each lossless codec and prints a digest per codec: run by this machine's
# Python on its own build, and by the root's Python on the package's.
ENCODE = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from gateway.imaging._encoder import Codec
width, height = 203, 37
rows = bytes((x * 7 + y * 13) % 256 for y in range(height) for x in range(width * 3))
gray = bytes((x * 5 + y * 3) % 256 for y in range(height) for x in range(width))
line = bytes((x * 11 + y) % 256 for y in range(height) for x in range((width + 7) // 8))
for kind, data, bpl, channels, depth in (("png", rows, width * 3, 3, 8), ("png", gray, width, 1, 8),
                                         ("dib", rows, width * 3, 3, 8), ("raw", gray, width, 1, 8),
                                         ("g4", line, (width + 7) // 8, 1, 1), ("png", line, (width + 7) // 8, 1, 1)):
    c = Codec(kind, width, height, bpl, channels, depth)
    out = c.feed(data[: len(data) // 2]) + c.feed(data[len(data) // 2:]) + c.finish()
    print(kind, channels, depth, hashlib.sha256(out).hexdigest())
"""


def test_build_deb_makes_the_package_for_the_architecture(foreign, arch):
    assert foreign.deb.name == f"sane-wsd-gateway_{__version__}_{arch}.deb"
    field = subprocess.run(["dpkg-deb", "--field", str(foreign.deb), "Architecture"], capture_output=True,
                           text=True, check=True, timeout=60).stdout.strip()
    assert field == arch


def test_c_extensions_are_built_for_the_architecture(foreign, arch):
    sos = sorted(foreign.root.file("/usr/lib/sane-wsd-gateway").rglob("*.so"))
    assert [so.name for so in sos] == ["_encoder.abi3.so", "_saneio.abi3.so"]
    for so in sos:
        header = subprocess.run(["readelf", "-h", str(so)], capture_output=True, text=True, check=True,
                                timeout=30).stdout
        elf_class, machine = ELF[arch]
        assert re.search(rf"Class:\s+{elf_class}\b", header), header
        assert re.search(rf"Machine:\s+{machine}\b", header), header


def test_encoder_makes_the_same_bytes_as_on_this_machine(foreign):
    """Word size and byte order: armhf is 32-bit. Lossless codecs must not depend on either."""
    script = foreign.root.file("/tmp/encode.py")
    script.write_text(ENCODE)
    there = foreign.root.run(["python3", "/tmp/encode.py", "/usr/lib/sane-wsd-gateway"],
                             timeout=ROOT_PYTHON_TIMEOUT).stdout
    here = subprocess.run([sys.executable, str(script), str(REPO)], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    assert there.splitlines() == here.splitlines() and len(here.splitlines()) == 6


def test_installed_gateway_serves_a_scan_to_sane_airscan_on_this_machine(foreign, tmp_path):
    with InstalledGateway(foreign.root, tmp_path) as gateway:
        picture = gateway.scan("--mode", "Color", "--resolution", "150", "-x", "100", "-y", "100")
    assert picture.mode == "RGB"
    assert picture.size == (SIDE, SIDE)

