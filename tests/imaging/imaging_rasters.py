"""Synthetic scans in SANE's row format, and independent readers for checking output."""
from __future__ import annotations

import array
import math
import struct
import zlib
from dataclasses import dataclass

from gateway.imaging import DocumentEncoder, RasterSpec, create_document_encoder

LAYOUTS = {  # name: (channels, depth)
    "lineart": (1, 1),
    "grey8": (1, 8),
    "grey16": (1, 16),
    "rgb24": (3, 8),
    "rgb48": (3, 16),
}

PAD_BYTE = 0xA5


@dataclass(frozen=True)
class Scan:
    """An image as sample values, and the same image as SANE would send it."""

    spec: RasterSpec
    rows: list[list[int]]  # per row: width * channels samples in 0 .. 2**depth - 1

    @property
    def sane_bytes(self) -> bytes:
        return b"".join(self.sane_row(r) for r in self.rows)

    def sane_row(self, samples: list[int]) -> bytes:
        s = self.spec
        if s.depth == 1:
            packed = bytearray((s.width + 7) // 8)
            for i, v in enumerate(samples):
                if v:
                    packed[i // 8] |= 0x80 >> (i % 8)
            # Stray bits after the last pixel must not reach the output.
            if s.width % 8:
                packed[-1] |= 0xFF >> (s.width % 8)
            row = bytes(packed)
        elif s.depth == 8:
            row = bytes(samples)
        else:
            row = array.array("H", samples).tobytes()  # native order, as SANE gives it
        return row + bytes([PAD_BYTE]) * (s.bytes_per_line - len(row))

    def as_8bit(self) -> list[list[int]]:
        """What an 8-bit output should hold: high byte of 16, lineart 1 -> 0 (black)."""
        d = self.spec.depth
        if d == 1:
            return [[0 if v else 255 for v in r] for r in self.rows]
        if d == 16:
            return [[v >> 8 for v in r] for r in self.rows]
        return self.rows


def smooth_scan(layout: str, width: int = 67, height: int | None = 41, *, padding: int = 3,
                dpi: tuple[int, int] = (300, 300), rows: int = 41) -> Scan:
    """Gentle gradients (JPEG-friendly); lineart gets a disc on a checker."""
    channels, depth = LAYOUTS[layout]
    packed = (width * channels * depth + 7) // 8
    spec = RasterSpec(width, height, packed + padding, channels, depth, *dpi)
    n = height or rows
    data = []
    for y in range(n):
        row = []
        for x in range(width):
            if depth == 1:
                inside = (x - width / 2) ** 2 + (y - n / 2) ** 2 < (min(width, n) / 3) ** 2
                row.append(int(inside) ^ ((x // 8 + y // 8) % 2))
                continue
            for c in range(channels):
                v = 0.5 + 0.45 * math.sin(x / 9.0 + c * 1.3) * math.cos(y / 11.0 - c)
                top = (1 << depth) - 1
                row.append(min(top, max(0, round(v * top))))
        data.append(row)
    return Scan(spec, data)


def psnr(a: list[list[int]], b: list[list[int]]) -> float:
    flat_a = [v for r in a for v in r]
    flat_b = [v for r in b for v in r]
    assert len(flat_a) == len(flat_b)
    mse = sum((x - y) ** 2 for x, y in zip(flat_a, flat_b)) / len(flat_a)
    return float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def pillow_rows(image, channels: int) -> list[list[int]]:
    width = image.size[0]
    flat = list(image.getdata())
    if channels == 3:
        flat = [v for px in flat for v in px]
    step = width * channels
    return [flat[i:i + step] for i in range(0, len(flat), step)]


# An independent PNG reader, because Pillow reduces 48-bit RGB to 24.

@dataclass
class Png:
    chunks: list[tuple[bytes, bytes]]
    width: int
    height: int
    depth: int
    colour_type: int
    filters: list[int]
    rows: list[bytes]  # unfiltered rows, PNG sample layout

    def samples(self) -> list[list[int]]:
        out = []
        for r in self.rows:
            if self.depth == 1:
                out.append([(r[i // 8] >> (7 - i % 8)) & 1 for i in range(self.width)])
            elif self.depth == 8:
                out.append(list(r))
            else:
                out.append(list(struct.unpack(f">{len(r) // 2}H", r)))
        return out


def read_png(data: bytes) -> Png:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0
    channels = 3 if colour == 2 else 1
    bpp = max(1, channels * depth // 8)
    stride = (width * channels * depth + 7) // 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (stride + 1)
    prev, rows, filters = bytes(stride), [], []
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        filters.append(f)
        rows.append(bytes(line))
        prev = line
    return Png(chunks, width, height, depth, colour, filters, rows)


G4 = "tiff-single-g4"


def layout_for(fmt: str, layout: str) -> str:
    """The layout asked for, or lineart for the formats that hold nothing else."""
    return "lineart" if fmt == G4 else layout


def spec_of_row_bytes(fmt: str, row_bytes: int, height: int | None, dpi: int = 300) -> RasterSpec:
    """Rows of exactly row_bytes bytes: RGB, or lineart for G4."""
    if fmt == G4:
        return RasterSpec(row_bytes * 8, height, row_bytes, 1, 1, dpi, dpi)
    return RasterSpec(row_bytes // 3, height, row_bytes, 3, 8, dpi, dpi)


def open_page(fmt: str, spec: RasterSpec, quality: int = 85) -> tuple[DocumentEncoder, bytes]:
    """A one-page file begun with the document encoder that ships: it, and the bytes start_page gave."""
    doc = create_document_encoder(fmt, quality)
    return doc, doc.start_page(spec)


def end_page(doc: DocumentEncoder) -> bytes:
    """The rest of a one-page file: the end of its page and of the document."""
    return doc.end_page() + doc.finish()


def encode_page(fmt: str, spec: RasterSpec, data: bytes, quality: int = 85, piece: int | None = None) -> bytes:
    """The whole one-page file of ``data``, fed ``piece`` bytes at a time."""
    doc, head = open_page(fmt, spec, quality)
    step = piece or max(len(data), 1)
    return head + b"".join(doc.feed(data[i:i + step]) for i in range(0, len(data), step)) + end_page(doc)
