"""The scanner icon: eSCL clients show it (IconURI, the TXT ``representation``), browsers show it for the
status page (favicon); a flatbed drawn in code.

A PNG with an alpha channel whose side is a power of two (macOS refuses other
sizes); drawn here rather than shipped so that the package holds no binary
file. Built once, on first use.
"""

from __future__ import annotations

import functools
import struct
import zlib

SIZE = 128
CONTENT_TYPE = "image/png"

_BODY = (70, 78, 92, 255)
_LID = (104, 114, 130, 255)
_GLASS = (120, 190, 235, 255)
_LIGHT = (240, 250, 255, 255)
_CLEAR = (0, 0, 0, 0)


def _pixel(x: int, y: int) -> tuple[int, int, int, int]:
    """The colour at (x, y): a lid above a body, a glass window with a light bar across it."""
    if 20 <= y < 38 and 12 <= x < 116:
        return _LID
    if 40 <= y < 100 and 8 <= x < 120:
        if 52 <= y < 88 and 20 <= x < 108:
            return _LIGHT if 66 <= y < 72 else _GLASS
        return _BODY
    return _CLEAR


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def icon_png() -> bytes:
    """The icon's PNG file: SIZE x SIZE, 8-bit RGBA."""
    rows = b"".join(b"\x00" + bytes(v for x in range(SIZE) for v in _pixel(x, y)) for y in range(SIZE))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9)) \
        + _chunk(b"IEND", b"")
