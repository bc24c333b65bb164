"""The one table of file formats: what each is, what it holds, how it stores a row.

Everyone asks this table: the document layer for the codec and the content
type, the scanner core (through ``app.py``, as a typed value) for which
colours a format holds, whether it is lossless or multi-page and what
BytesPerLine a client is told. Format names are the table's keys (WS-Scan's
Format keywords, which the table was first written for).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from ._encoder import EncoderError

Layout = tuple[int, int]
"""(channels, depth) of the raw rows: 1-bit lineart, 8/16-bit grey, 24/48-bit RGB."""
EVERY_LAYOUT: frozenset[Layout] = frozenset({(1, 1), (1, 8), (1, 16), (3, 8), (3, 16)})
LINEART_ONLY: frozenset[Layout] = frozenset({(1, 1)})


class RowStorage(enum.Enum):
    """How a file stores one row of pixels, which fixes the BytesPerLine a client is told."""

    COMPRESSED = "compressed"
    """The rows are coded: no fixed size (BytesPerLine 0)."""
    PACKED = "packed"
    """Samples packed without padding, 16-bit kept (TIFF uncompressed)."""
    BMP = "bmp"
    """BMP rows: 1-bit or 8 bits a sample (16-bit samples reduced), padded to 4 bytes."""


@dataclass(frozen=True)
class FileFormat:
    name: str
    content_type: str
    codec: str | None
    """The row codec of ``_encoder`` that codes its pages (None: chosen per page, as pdf-a does)."""
    lossless: bool
    multi_page: bool
    """One file holds every page of a job (else one file per page)."""
    layouts: frozenset[Layout]
    rows: RowStorage

    @property
    def compressed(self) -> bool:
        return self.rows is RowStorage.COMPRESSED

    def holds(self, channels: int, depth: int) -> bool:
        return (channels, depth) in self.layouts

    def bytes_per_line(self, width: int, channels: int, depth: int) -> int:
        """The size of one stored row of ``width`` pixels; 0 for a format whose rows are coded."""
        if self.rows is RowStorage.BMP:
            bits = 1 if depth == 1 else 8 * channels
            return (width * bits + 31) // 32 * 4
        if self.rows is RowStorage.PACKED:
            return (width * channels * depth + 7) // 8
        return 0


_ROWS = RowStorage
FORMATS: dict[str, FileFormat] = {f.name: f for f in (
    FileFormat("png", "image/png", "png", True, False, EVERY_LAYOUT, _ROWS.COMPRESSED),
    FileFormat("jfif", "image/jpeg", "jpeg", False, False, EVERY_LAYOUT, _ROWS.COMPRESSED),
    FileFormat("exif", "image/jpeg", "jpeg", False, False, EVERY_LAYOUT, _ROWS.COMPRESSED),
    FileFormat("dib", "image/bmp", "dib", True, False, EVERY_LAYOUT, _ROWS.BMP),
    FileFormat("tiff-single-uncompressed", "image/tiff", "raw", True, False, EVERY_LAYOUT, _ROWS.PACKED),
    FileFormat("tiff-single-g4", "image/tiff", "g4", True, False, LINEART_ONLY, _ROWS.COMPRESSED),
    FileFormat("tiff-multi-uncompressed", "image/tiff", "raw", True, True, EVERY_LAYOUT, _ROWS.PACKED),
    FileFormat("tiff-multi-g4", "image/tiff", "g4", True, True, LINEART_ONLY, _ROWS.COMPRESSED),
    # JPEG for grey and colour pages (lossy), CCITT G4 for lineart.
    FileFormat("pdf-a", "application/pdf", None, False, True, EVERY_LAYOUT, _ROWS.COMPRESSED),
)}
"""In order of preference: the first a scanner offers is its default."""


def supported_formats() -> tuple[str, ...]:
    """Every format name the document encoder writes."""
    return tuple(FORMATS)


def format_info(fmt: str) -> FileFormat:
    """The format's entry; EncoderError naming the choices for an unknown one."""
    info = FORMATS.get(fmt)
    if info is None:
        raise EncoderError(f"format {fmt!r} is not supported; choose from " + ", ".join(FORMATS))
    return info


def can_encode(fmt: str, channels: int, depth: int) -> bool:
    info = FORMATS.get(fmt)
    return info is not None and info.holds(channels, depth)


def is_multi_page(fmt: str) -> bool:
    """Whether one file of this format holds all the pages of a job."""
    info = FORMATS.get(fmt)
    return info is not None and info.multi_page
