"""Streaming encoders for scanned pages, chosen by WSD format name.

Raw rows go in as the scanner delivers them and file bytes come out as
soon as the codec has them, so a page can be sent while it is scanned and
memory stays bounded by a few rows whatever the page size.

When the scanner does not know the page height (RasterSpec.height None)
the file cannot start until the last row is in: PNG, BMP and TIFF need the
height in their headers and libjpeg needs it before the first row.  Such
encoders return nothing from feed() and keep their data in an anonymous
temporary file instead of memory: PNG, BMP and TIFF spool their encoded
pixel data (compression still overlaps the scan), JPEG spools the raw rows
and compresses them at finish.  finish_chunks() then streams the file out
without holding it in memory; finish() returns it whole.

tiff-single-g4 always works that way, since its header states the size
of the compressed strip; G4 pages are small, so little is lost.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Iterator

from . import _encoder, headers

EncoderError = _encoder.EncoderError

JPEG_MAX_DIMENSION = 65500
PNG_ZLIB_LEVEL = 1
_LAYOUTS = frozenset({(1, 1), (1, 8), (1, 16), (3, 8), (3, 16)})


@dataclass(frozen=True)
class RasterSpec:
    """Geometry of the raw rows as SANE delivers them, and of the image taken from them.

    16-bit samples are in the machine's byte order; 1-bit rows are MSB
    first with 1 = black.  height is None when the scanner cannot tell in
    advance.  Bytes beyond the packed row within bytes_per_line are dropped.

    width and height are the image's.  The raw frame may be larger (the
    scanner's own steps are coarser than the image asked for): the image
    then starts x_offset pixels into each raw row and y_offset raw rows
    down, and extra_rows raw rows follow it (None: any number).  With an
    unknown height the image ends with the frame, or after max_height
    rows.  Cropping never copies the page: rows are passed on as slices of
    what is fed and the codecs read columns in place.
    """

    width: int
    height: int | None
    bytes_per_line: int
    channels: int
    depth: int
    dpi_x: int
    dpi_y: int
    x_offset: int = 0
    y_offset: int = 0
    extra_rows: int | None = 0
    max_height: int | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or (self.height is not None and self.height < 1):
            raise ValueError(f"image size must be positive, not {self.width} x {self.height}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.depth not in (1, 8, 16):
            raise ValueError(f"depth must be 1, 8 or 16, not {self.depth}")
        if min(self.x_offset, self.y_offset, self.extra_rows or 0, self.max_height or 1) < 0 or \
                self.max_height == 0:
            raise ValueError("offsets and row counts must not be negative")
        needed = ((self.x_offset + self.width) * self.channels * self.depth + 7) // 8
        if self.bytes_per_line < needed:
            raise ValueError(f"bytes_per_line {self.bytes_per_line} is less than the "
                             f"{needed} bytes of one row")
        if self.dpi_x < 1 or self.dpi_y < 1:
            raise ValueError(f"resolution must be positive, not {self.dpi_x} x {self.dpi_y}")

    @property
    def packed_bytes_per_line(self) -> int:
        """Bytes of one image row, packed."""
        return (self.width * self.channels * self.depth + 7) // 8


class RowWindow:
    """Passes on only the raw rows of the image: those above and below it are dropped.

    What it returns are slices of what it is fed (no copy).  More rows than
    the frame was said to have are an EncoderError, as they would be
    without cropping.
    """

    def __init__(self, spec: RasterSpec) -> None:
        bpl = spec.bytes_per_line
        self._start = spec.y_offset * bpl
        rows = spec.height if spec.height is not None else spec.max_height
        self._end = None if rows is None else self._start + rows * bpl
        self._limit = None
        if spec.height is not None and spec.extra_rows is not None:
            self._limit = self._end + spec.extra_rows * bpl
        self._pos = 0
        self.passes_all = self._start == 0 and (spec.height is None and rows is None or self._limit == self._end)

    def take(self, data) -> memoryview:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        first, self._pos = self._pos, self._pos + view.nbytes
        if self.passes_all:
            return view
        if self._limit is not None and self._pos > self._limit:
            raise EncoderError("more image data than the declared height")
        lo = max(self._start - first, 0)
        hi = view.nbytes if self._end is None else min(max(self._end - first, 0), view.nbytes)
        return view[lo:hi] if lo < hi else view[:0]


@dataclass(frozen=True)
class _Format:
    codec: str  # kind of _encoder.Codec
    content_type: str
    compressed: bool
    header_needs_size: bool = False  # so the output must be spooled whatever the height
    layouts: frozenset = _LAYOUTS


_FORMATS = {
    "png": _Format("png", "image/png", True),
    "jfif": _Format("jpeg", "image/jpeg", True),
    "exif": _Format("jpeg", "image/jpeg", True),
    "dib": _Format("dib", "image/bmp", False),
    "tiff-single-uncompressed": _Format("raw", "image/tiff", False),
    "tiff-single-g4": _Format("g4", "image/tiff", True, header_needs_size=True,
                              layouts=frozenset({(1, 1)})),
}


# Formats of one file per job (see document.py), with the layouts they take.
_CONTAINERS = {
    "tiff-multi-uncompressed": _Format("raw", "image/tiff", False),
    "tiff-multi-g4": _Format("g4", "image/tiff", True, layouts=frozenset({(1, 1)})),
    "pdf-a": _Format("pdf", "application/pdf", True),
}


def supported_formats() -> tuple[str, ...]:
    """WSD Format names that create_encoder and create_document_encoder accept."""
    return tuple(_FORMATS) + tuple(_CONTAINERS)


def can_encode(fmt: str, channels: int, depth: int) -> bool:
    info = _FORMATS.get(fmt) or _CONTAINERS.get(fmt)
    return info is not None and (channels, depth) in info.layouts


def check_quality(quality: int) -> None:
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1..100, not {quality}")


def create_encoder(fmt: str, spec: RasterSpec, quality: int = 85):
    """An encoder for one page.

    EncoderError when the format or layout is not supported or the page is
    too big for the format; ValueError for a quality outside 1..100.
    quality only affects jfif, exif and the images of pdf-a.  For the
    multi-page formats the result is a file of this one page (an object
    with the same methods as Encoder).
    """
    if fmt not in _FORMATS and fmt not in _CONTAINERS:
        raise EncoderError(f"format {fmt!r} is not supported; choose from "
                           + ", ".join(supported_formats()))
    if not can_encode(fmt, spec.channels, spec.depth):
        raise EncoderError(f"{fmt} cannot hold {spec.channels} channel(s) of {spec.depth} bit(s)")
    check_quality(quality)
    if fmt in _CONTAINERS:
        from .document import OnePageDocument
        return OnePageDocument(fmt, spec, quality)
    return Encoder(fmt, spec, quality)


class Encoder:
    """Turns the raw rows of one page into one image file, piece by piece.

    Made by create_encoder.  Feeding more rows than the known height is an
    EncoderError (the extra data is not silently dropped), as is finishing
    with fewer rows or with a partial last row.  After any error the
    encoder is closed.
    """

    def __init__(self, fmt: str, spec: RasterSpec, quality: int) -> None:
        info = _FORMATS[fmt]
        self.format = fmt
        self.spec = spec
        self.content_type = info.content_type
        self.compressed = info.compressed
        self._kind = info.codec
        self._quality = quality
        self._state = "open"
        self._codec = None
        self._spool = None
        self._spooled = 0
        self._head = b""
        self._header_needs_size = info.header_needs_size
        self._rows = RowWindow(spec)
        self.output_bytes_per_line = {
            "dib": ((spec.width * (1 if spec.depth == 1 else 8 * spec.channels) + 31) // 32) * 4,
            "raw": spec.packed_bytes_per_line,
        }.get(self._kind, 0)
        if self._kind == "jpeg":
            if spec.width > JPEG_MAX_DIMENSION:
                raise EncoderError(f"JPEG is limited to {JPEG_MAX_DIMENSION} pixels per line")
            if max(spec.dpi_x, spec.dpi_y) > 0xFFFF:
                raise EncoderError("JPEG density is limited to 65535 dpi")
        if spec.height is not None:
            self._check_height(spec.height)
        if spec.height is None or self._header_needs_size:
            self._spool = tempfile.TemporaryFile(prefix="gateway-page-")
            if self._kind != "jpeg":
                self._codec = self._new_codec(-1 if spec.height is None else spec.height)
        else:
            self._codec = self._new_codec(spec.height)
            self._head = self._header(spec.height)

    def _max_rows(self) -> int:
        if self._kind == "jpeg":
            return JPEG_MAX_DIMENSION
        if self._kind == "dib":
            return headers.bmp_max_rows(self.spec.channels, self.spec.depth,
                                        self.output_bytes_per_line)
        if self._kind == "raw":
            return headers.tiff_max_rows(self.output_bytes_per_line)
        return headers.INT32_MAX

    def _check_height(self, rows: int) -> None:
        if rows > self._max_rows():
            raise EncoderError(f"{self.format} cannot hold {rows} rows of this width "
                               f"(at most {self._max_rows()})")

    def _new_codec(self, height: int):
        s = self.spec
        app1 = b""
        if self.format == "exif":
            app1 = headers.exif_app1(s.width, height, s.channels, s.dpi_x, s.dpi_y)
        args = dict(dpi_x=s.dpi_x, dpi_y=s.dpi_y, quality=self._quality, level=PNG_ZLIB_LEVEL, x_offset=s.x_offset)
        if app1:
            args["app1"] = app1
        return _encoder.Codec(self._kind, s.width, height, s.bytes_per_line, s.channels, s.depth,
                              **args)

    def _header(self, height: int) -> bytes:
        s = self.spec
        if self._kind == "png":
            return headers.png_header(s.width, height, s.channels, s.depth, s.dpi_x, s.dpi_y)
        if self._kind == "dib":
            return headers.bmp_header(s.width, height, s.channels, s.depth, s.dpi_x, s.dpi_y,
                                      self.output_bytes_per_line)
        if self._kind == "raw":
            return headers.tiff_header(s.width, height, s.channels, s.depth, s.dpi_x, s.dpi_y,
                                       self.output_bytes_per_line * height)
        if self._kind == "g4":
            if self._spooled > headers.TIFF_MAX_STRIP:
                raise EncoderError("G4 data too large for a TIFF file")
            return headers.tiff_header(s.width, height, 1, 1, s.dpi_x, s.dpi_y, self._spooled,
                                       headers.TIFF_G4)
        return b""

    def _check_open(self) -> None:
        if self._state != "open":
            raise EncoderError(f"encoder is {self._state}")

    def feed(self, data) -> bytes:
        """Take any number of raw bytes; return the file bytes ready now (maybe b"")."""
        self._check_open()
        try:
            data = self._rows.take(data)
            if self._codec is None:
                return self._spool_raw(data)
            out = self._codec.feed(data)
            if self._spool is not None:
                self._check_height(self._codec.rows)
                self._spooled += len(out)
                self._spool.write(out)
                return b""
            if self._head:
                out, self._head = self._head + out, b""
            return out
        except BaseException:
            self.close()
            raise

    def _spool_raw(self, data) -> bytes:
        self._spooled += memoryview(data).nbytes
        self._check_height(self._spooled // self.spec.bytes_per_line)
        self._spool.write(data)
        return b""

    def finish(self) -> bytes:
        """The rest of the file; with an unknown height, the whole file."""
        return b"".join(self.finish_chunks())

    def finish_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Like finish(), as an iterator of pieces of about chunk_size bytes.

        Checks the row count before returning, so errors are raised here
        rather than on the first iteration.
        """
        now, rest = self._complete()
        return iter((now,)) if rest is None else rest(chunk_size)

    def _complete(self):
        """Checks that the page is complete: (bytes ready now, None) when nothing was
        spooled, else (b"", a function of chunk_size iterating over the whole file)."""
        self._check_open()
        self._state = "finishing"
        try:
            if self._spool is None:
                tail = self._head + self._codec.finish()
                self._finished()
                return tail, None
            if self._codec is None:
                rows = self._count_spooled_rows()
                return b"", lambda chunk_size: self._encode_spooled_rows(rows, chunk_size)
            tail = self._codec.finish()
            self._spooled += len(tail)
            head = self._header(self._codec.rows)
            return b"", lambda chunk_size: self._replay_spool(head, tail, chunk_size)
        except BaseException:
            self.close()
            raise

    def _count_spooled_rows(self) -> int:
        rows, rest = divmod(self._spooled, self.spec.bytes_per_line)
        if rest:
            raise EncoderError(f"last row incomplete: {rest} of {self.spec.bytes_per_line} bytes")
        if not rows:
            raise EncoderError("no rows were fed")
        return rows

    def _replay_spool(self, head: bytes, tail: bytes, chunk_size: int) -> Iterator[bytes]:
        try:
            yield head
            self._spool.seek(0)
            while block := self._spool.read(chunk_size):
                yield block
            yield tail
            self._finished()
        finally:
            self.close()

    def _encode_spooled_rows(self, rows: int, chunk_size: int) -> Iterator[bytes]:
        try:
            self._codec = self._new_codec(rows)
            self._spool.seek(0)
            step = max(1, chunk_size // self.spec.bytes_per_line) * self.spec.bytes_per_line
            while block := self._spool.read(step):
                if out := self._codec.feed(block):
                    yield out
            yield self._codec.finish()
            self._finished()
        finally:
            self.close()

    def _finished(self) -> None:
        self._state = "finished"
        self.close()

    def close(self) -> None:
        """Free the codec and any spool file; safe at any time, any number of times."""
        codec, spool = getattr(self, "_codec", None), getattr(self, "_spool", None)
        self._codec = self._spool = None
        if codec is not None:
            codec.close()
        if spool is not None:
            spool.close()
        if getattr(self, "_state", "open") != "finished":
            self._state = "closed"

    __del__ = close

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
