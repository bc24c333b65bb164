"""One page's pixels through one row codec: streamed, or spooled to a temporary file.

The page streams from ``feed`` when its height is known and the container
can take its data before it ends. Otherwise (an unknown height, or a
container that states the data's size in front of it, as TIFF does for a G4
strip) the coded data goes to an anonymous temporary file that ``end``
completes and ``take_file`` hands over. libjpeg needs the height before the
first row, so a JPEG page of unknown height spools its raw rows and
compresses them at ``end``. This is the only place that spools.
"""
from __future__ import annotations

import tempfile
from typing import Callable

from . import _encoder
from ._encoder import EncoderError
from .raster import RasterSpec, RowWindow

JPEG_MAX_DIMENSION = 65500
PNG_ZLIB_LEVEL = 1
SPOOL_STEP = 1 << 20
"""Bytes of spooled raw rows compressed at a time."""


def spool_file():
    """An anonymous temporary file: gone when closed, or when the process dies."""
    return tempfile.TemporaryFile(prefix="gateway-page-")


class PageEncoder:
    """The coded pixels of one page.

    ``app1(height)`` gives a JPEG's APP1 segment (Exif) once the height is
    known. ``max_rows`` is the most rows the container can hold.
    """

    def __init__(self, kind: str, spec: RasterSpec, quality: int, spool: bool, max_rows: int,
                 app1: Callable[[int], bytes] | None = None) -> None:
        self.kind, self.spec, self.max_rows = kind, spec, max_rows
        self.spooled = spool or spec.height is None
        self.rows = spec.height
        self.size = 0  # spooled bytes
        self._quality = quality
        self._app1 = app1
        self._codec = self._file = None
        self._window = RowWindow(spec)
        if kind == "jpeg" and spec.width > JPEG_MAX_DIMENSION:
            raise EncoderError(f"JPEG is limited to {JPEG_MAX_DIMENSION} pixels per line")
        if spec.height is not None and spec.height > max_rows:
            raise EncoderError(f"a page of {spec.height} rows of this width is too large (at most {max_rows})")
        if self.spooled:
            self._file = spool_file()
        if not (kind == "jpeg" and spec.height is None):  # else raw rows are spooled
            self._codec = self._new_codec(-1 if spec.height is None else spec.height)

    def _new_codec(self, height: int):
        s = self.spec
        extra = {"app1": self._app1(height)} if self._app1 is not None else {}
        return _encoder.Codec(self.kind, s.width, height, s.bytes_per_line, s.channels, s.depth,
                              dpi_x=min(s.dpi_x, 0xFFFF), dpi_y=min(s.dpi_y, 0xFFFF),
                              quality=self._quality, level=PNG_ZLIB_LEVEL, x_offset=s.x_offset, **extra)

    def feed(self, data) -> bytes:
        """Raw bytes in; the coded bytes ready now out (b"" while spooling)."""
        data = self._window.take(data)
        if self._codec is None:
            self.size += memoryview(data).nbytes
            self._check_rows(self.size // self.spec.bytes_per_line)
            self._file.write(data)
            return b""
        out = self._codec.feed(data)
        if self._file is None:
            return out
        self._check_rows(self._codec.rows)
        self._file.write(out)
        self.size += len(out)
        return b""

    def _check_rows(self, rows: int) -> None:
        if rows > self.max_rows:
            raise EncoderError(f"page too large: more than {self.max_rows} rows")

    def end(self) -> bytes:
        """Checks that the page is complete; the last streamed bytes (b"" when spooled)."""
        if self._codec is None:
            self._compress_spooled_rows()
            return b""
        tail = self._codec.finish()
        self.rows = self._codec.rows
        self._codec = None
        if self._file is None:
            return tail
        self._file.write(tail)
        self.size += len(tail)
        return b""

    def _compress_spooled_rows(self) -> None:
        bpl = self.spec.bytes_per_line
        rows, rest = divmod(self.size, bpl)
        if rest:
            raise EncoderError(f"last row incomplete: {rest} of {bpl} bytes")
        if not rows:
            raise EncoderError("no rows were fed")
        raw, self._file = self._file, spool_file()
        try:
            codec = self._new_codec(rows)
            raw.seek(0)
            self.size = 0
            step = max(1, SPOOL_STEP // bpl) * bpl
            while block := raw.read(step):
                out = codec.feed(block)
                self._file.write(out)
                self.size += len(out)
            out = codec.finish()
            self._file.write(out)
            self.size += len(out)
            self.rows = rows
        finally:
            raw.close()

    def take_file(self):
        """The spooled data's file (the caller closes it)."""
        file, self._file = self._file, None
        return file

    def close(self) -> None:
        codec, file = self._codec, self._file
        self._codec = self._file = None
        if codec is not None:
            codec.close()
        if file is not None:
            file.close()
