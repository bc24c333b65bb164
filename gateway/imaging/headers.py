"""File headers written around the codec output.

They depend only on the image geometry, never on the pixels, so for a
scanner that does not know the page height they can be built after the
last row and put in front of the spooled pixel data.
"""
from __future__ import annotations

import struct
import sys
import zlib
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BMP_HEADERS_SIZE = 14 + 40
UINT32_MAX = 0xFFFFFFFF
INT32_MAX = 0x7FFFFFFF


def dots_per_metre(dpi: int) -> int:
    return round(dpi / 0.0254)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, channels: int, depth: int, dpi_x: int, dpi_y: int) -> bytes:
    """Signature, IHDR and pHYs; the codec supplies IDAT and IEND."""
    colour_type = 0 if channels == 1 else 2
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    phys = struct.pack(">IIB", dots_per_metre(dpi_x), dots_per_metre(dpi_y), 1)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"pHYs", phys)


def _bmp_palette(channels: int, depth: int) -> bytes:
    if depth == 1:
        # Index 1 is black so that SANE lineart bits need no inversion.
        return bytes((255, 255, 255, 0, 0, 0, 0, 0))
    if channels == 1:
        return b"".join(bytes((v, v, v, 0)) for v in range(256))
    return b""


def bmp_max_rows(channels: int, depth: int, row_bytes: int) -> int:
    """BMP sizes are 32-bit: the most rows a file of this width can hold."""
    room = UINT32_MAX - BMP_HEADERS_SIZE - len(_bmp_palette(channels, depth))
    return min(INT32_MAX, room // row_bytes)


def bmp_header(width: int, height: int, channels: int, depth: int, dpi_x: int, dpi_y: int,
               row_bytes: int) -> bytes:
    """File and info headers plus palette for top-down rows (negative height)."""
    palette = _bmp_palette(channels, depth)
    bits = 1 if depth == 1 else 8 * channels
    offset = BMP_HEADERS_SIZE + len(palette)
    image_size = row_bytes * height
    file_header = struct.pack("<2sIHHI", b"BM", offset + image_size, 0, 0, offset)
    info_header = struct.pack(
        "<IiiHHIIiiII", 40, width, -height, 1, bits, 0, image_size,
        dots_per_metre(dpi_x), dots_per_metre(dpi_y), len(palette) // 4, 0)
    return file_header + info_header + palette


# TIFF / Exif image file directories

SHORT, LONG, RATIONAL, UNDEFINED = 3, 4, 5, 7
_ITEM_SIZE = {SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1}
_ITEM_CODE = {SHORT: "H", LONG: "I", RATIONAL: "II"}


@dataclass(frozen=True)
class IfdEntry:
    tag: int
    type: int
    values: tuple | bytes  # numbers; RATIONAL as (numerator, denominator) pairs; UNDEFINED as bytes

    def packed(self, order: str) -> bytes:
        if self.type == UNDEFINED:
            return bytes(self.values)
        code = _ITEM_CODE[self.type]
        flat = [n for v in self.values for n in (v if self.type == RATIONAL else (v,))]
        return struct.pack(order + code * len(self.values), *flat)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def outside(self) -> int:
        """Bytes stored after the directory (values over 4 bytes), kept even."""
        size = _ITEM_SIZE[self.type] * self.count
        return 0 if size <= 4 else size + size % 2


def ifd_size(entries: list[IfdEntry]) -> int:
    return 2 + 12 * len(entries) + 4 + sum(e.outside for e in entries)


def pack_ifd(entries: list[IfdEntry], offset: int, order: str, next_ifd: int = 0) -> bytes:
    """A directory placed at `offset`, followed by its out-of-line values."""
    entries = sorted(entries, key=lambda e: e.tag)
    values_at = offset + 2 + 12 * len(entries) + 4
    table, extra = [struct.pack(order + "H", len(entries))], []
    for e in entries:
        data = e.packed(order)
        if e.outside:
            field = struct.pack(order + "I", values_at)
            extra.append(data.ljust(e.outside, b"\0"))
            values_at += e.outside
        else:
            field = data.ljust(4, b"\0")
        table.append(struct.pack(order + "HHI", e.tag, e.type, e.count) + field)
    table.append(struct.pack(order + "I", next_ifd))
    return b"".join(table + extra)


def _tiff_start(order: str, first_ifd: int) -> bytes:
    return (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, first_ifd)


def _resolution(dpi_x: int, dpi_y: int) -> list[IfdEntry]:
    return [IfdEntry(0x011A, RATIONAL, ((dpi_x, 1),)),
            IfdEntry(0x011B, RATIONAL, ((dpi_y, 1),)),
            IfdEntry(0x0128, SHORT, (2,))]  # inches


TIFF_UNCOMPRESSED, TIFF_G4 = 1, 4


def tiff_order() -> str:
    """struct prefix of the machine's byte order, which TIFF files here are written in."""
    return "<" if sys.byteorder == "little" else ">"


def tiff_start(first_ifd: int) -> bytes:
    """The 8-byte TIFF file header pointing at the first directory."""
    return _tiff_start(tiff_order(), first_ifd)


def tiff_entries(width: int, height: int, channels: int, depth: int, dpi_x: int, dpi_y: int,
                 data_offset: int, strip_bytes: int, compression: int = TIFF_UNCOMPRESSED,
                 page: int | None = None) -> list[IfdEntry]:
    """Directory entries of a single-strip page; page (0-based) marks one of several."""
    photometric = 0 if depth == 1 else (1 if channels == 1 else 2)
    entries = [IfdEntry(256, LONG, (width,)), IfdEntry(257, LONG, (height,)),
               IfdEntry(258, SHORT, (depth,) * channels), IfdEntry(259, SHORT, (compression,)),
               IfdEntry(262, SHORT, (photometric,)), IfdEntry(273, LONG, (data_offset,)),
               IfdEntry(277, SHORT, (channels,)), IfdEntry(278, LONG, (height,)),
               IfdEntry(279, LONG, (strip_bytes,)), IfdEntry(284, SHORT, (1,)),
               *_resolution(dpi_x, dpi_y)]
    if page is not None:
        # A page of a multi-page file; the total (0: not known) is not known while streaming.
        entries += [IfdEntry(254, LONG, (2,)), IfdEntry(297, SHORT, (page, 0))]
    return entries


def tiff_header(width: int, height: int, channels: int, depth: int, dpi_x: int, dpi_y: int,
                strip_bytes: int, compression: int = TIFF_UNCOMPRESSED) -> bytes:
    """Header and the only directory of a single-strip TIFF.

    The strip follows the header directly.  The file is in the machine's
    byte order so that 16-bit SANE samples pass through unchanged, and
    1-bit images are WhiteIsZero so that SANE lineart bits (and G4's
    black runs) mean black.
    """
    def entries(data_offset: int) -> list[IfdEntry]:
        return tiff_entries(width, height, channels, depth, dpi_x, dpi_y, data_offset,
                            strip_bytes, compression)

    data_offset = 8 + ifd_size(entries(0))
    return tiff_start(8) + pack_ifd(entries(data_offset), 8, tiff_order())


TIFF_MAX_STRIP = UINT32_MAX - 256  # leaves room for the header before the strip


def tiff_max_rows(row_bytes: int) -> int:
    return TIFF_MAX_STRIP // row_bytes


def exif_app1(width: int, height: int, channels: int, dpi_x: int, dpi_y: int) -> bytes:
    """Payload of the APP1 marker that replaces JFIF's APP0 in an Exif JPEG.

    IFD0 carries the resolution; the Exif IFD carries the fields Exif 2.3
    requires of every file (version, colour space, pixel dimensions).
    """
    order = "<"
    ifd0 = _resolution(dpi_x, dpi_y) + [IfdEntry(0x0213, SHORT, (1,)),  # YCbCr centred
                                        IfdEntry(0x8769, LONG, (0,))]
    exif_at = 8 + ifd_size(ifd0)
    ifd0[-1] = IfdEntry(0x8769, LONG, (exif_at,))
    exif_ifd = [IfdEntry(0x9000, UNDEFINED, b"0230"),
                IfdEntry(0xA000, UNDEFINED, b"0100"),
                IfdEntry(0xA001, SHORT, (1,)),  # sRGB
                IfdEntry(0xA002, LONG, (width,)),
                IfdEntry(0xA003, LONG, (height,))]
    if channels == 3:
        exif_ifd.append(IfdEntry(0x9101, UNDEFINED, bytes((1, 2, 3, 0))))  # Y Cb Cr
    tiff = _tiff_start(order, 8) + pack_ifd(ifd0, 8, order) + pack_ifd(exif_ifd, exif_at, order)
    return b"Exif\0\0" + tiff
