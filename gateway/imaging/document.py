"""Documents of one or more pages: multi-page TIFF, PDF/A-1b, and the single-page formats.

The one document layer: every file the gateway sends is written here, from
pages coded by ``page.PageEncoder``.  A DocumentEncoder is made once per
RetrieveImage (a multi-page format: once per job); each scanned image is a page
(start_page, feed, end_page, and pages may differ in size and layout, e.g.
duplex), and finish_chunks() ends the document.  Every call returns the
file bytes that are ready, as early as the container allows:

* png, jfif, exif, dib and tiff-single-* hold one page.  Of known height
  (and not G4) its header leaves at start_page and its pixels as they are
  fed; otherwise the page is spooled and its header placed when it ends.
* tiff-multi-uncompressed pages of known height stream completely.  Each
  page's directory (IFD) follows its pixel data and is held back (a few
  hundred bytes) until the next page starts, which fixes its pointer to
  the next directory, or the document ends (pointer 0).
* tiff-multi-g4 pages are spooled to a temporary file until the page
  ends, because a directory must state the strip's byte count.  Nothing
  else is held back.
* pdf-a pages stream their image (JPEG, or CCITT G4 for lineart) between
  the image dictionary and the ``endstream``; the stream's /Length is an
  indirect object written after it.  Catalog, page tree, output intent,
  metadata, cross-reference table and trailer come at the end.
* A page of unknown height is spooled (encoded; JPEG as raw rows that
  are compressed at the end of the page) and released when it ends.

Data released all at once -- a spooled page -- goes into an output queue
on disk rather than into one huge bytes object; while the queue is not
empty, later output joins its end, and every call returns its own output's
worth of bytes plus DRAIN_STEP more from the queue, so memory stays
bounded and the order of the file is kept.  finish_chunks() streams the
rest.
"""
from __future__ import annotations

import datetime
import os
import uuid
import zlib
from collections import deque
from functools import partial
from typing import Iterator

from . import headers, pdfa
from ._encoder import EncoderError
from .formats import FileFormat, format_info
from .page import JPEG_MAX_DIMENSION, PageEncoder
from .raster import RasterSpec

DRAIN_STEP = 1 << 20
PDF_LEAF_PAGES = 4000  # kids per page tree node, under PDF/A-1's limit of 8191 array elements


def check_quality(quality: int) -> None:
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1..100, not {quality}")


def create_document_encoder(fmt: str, quality: int = 85) -> DocumentEncoder:
    """A document encoder for any format of the table (``formats.py``).

    Single-page formats give documents that take exactly one page.
    EncoderError for an unknown format, ValueError for quality outside
    1..100 (quality affects JPEG, including the images of pdf-a).
    """
    info = format_info(fmt)
    check_quality(quality)
    if fmt == "pdf-a":
        return _PdfDocument(info, quality)
    if info.multi_page:
        return _TiffDocument(info, quality)
    return _SingleImageDocument(info, quality)


# ------------------------------------------------------------------- output

class _Output:
    """The bytes of the file in order, with a queue on disk for large releases.

    pos is the file offset of the next byte written, queued or not.
    """

    def __init__(self) -> None:
        self.pos = 0
        self._now: list[bytes] = []
        self._queue: deque = deque()  # [file, read offset, end offset]
        self._queued_now = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pos += len(data)
        if not self._queue:
            self._now.append(data)
            return
        part = self._queue[-1]
        _pwrite_all(part[0].fileno(), data, part[2])
        part[2] += len(data)
        self._queued_now += len(data)

    def write_file(self, file, size: int) -> None:
        """Append a spooled file's first size bytes; the queue now owns (and closes) it."""
        file.flush()
        self.pos += size
        self._queue.append([file, 0, size])

    def take(self) -> bytes:
        """What this call may return: its direct output, else its share of the queue."""
        out = b"".join(self._now)
        self._now.clear()
        if self._queue:
            out += self._pull(self._queued_now + DRAIN_STEP)
        self._queued_now = 0
        return out

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        if self._now:
            yield self.take()
        while self._queue:
            yield self._pull(chunk_size)

    def _pull(self, n: int) -> bytes:
        got = []
        while n > 0 and self._queue:
            part = self._queue[0]
            data = os.pread(part[0].fileno(), min(n, part[2] - part[1]), part[1])
            if not data:
                raise EncoderError("spooled page data ended early")
            part[1] += len(data)
            n -= len(data)
            got.append(data)
            if part[1] >= part[2]:
                self._queue.popleft()[0].close()
        return b"".join(got)

    def close(self) -> None:
        self._now.clear()
        while self._queue:
            self._queue.popleft()[0].close()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


# ---------------------------------------------------------------- documents

class DocumentEncoder:
    """One file from the pages of a scan job; see the module description.

    Made by create_document_encoder.  Errors are EncoderError (bad order of
    calls, a layout the format cannot hold, rows missing or too many); after
    any error the encoder is closed.  close() may be called at any time and
    frees everything, including temporary files.
    """

    max_pages: int | None = None

    def __init__(self, info: FileFormat, quality: int) -> None:
        self.info = info
        self.format = info.name
        self.content_type = info.content_type
        self.quality = quality
        self.pages = 0
        self._state = "between pages"
        self._out = _Output()
        self._page: PageEncoder | None = None

    # public API

    def start_page(self, spec: RasterSpec) -> bytes:
        """Begins a page; returns the bytes ready (maybe b"")."""
        self._expect("between pages")
        if not self.info.holds(spec.channels, spec.depth):
            self.close()
            raise EncoderError(f"{self.format} cannot hold {spec.channels} channel(s) of "
                               f"{spec.depth} bit(s)")
        if self.max_pages is not None and self.pages >= self.max_pages:
            self.close()
            raise EncoderError(f"{self.format} holds a single page")
        return self._call(self._start, spec, next_state="in page")

    def feed(self, data) -> bytes:
        """Raw rows of the current page, any number of bytes."""
        self._expect("in page")
        return self._call(self._feed, data)

    def end_page(self) -> bytes:
        """Ends the current page (EncoderError if rows are missing)."""
        self._expect("in page")
        return self._call(self._end, next_state="between pages")

    def finish_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Ends the document: the rest of the file in pieces of about chunk_size.

        Errors (a page still open, no pages) are raised here, before the
        first piece.
        """
        self._expect("between pages")
        if not self.pages:
            self.close()
            raise EncoderError("a document needs at least one page")
        self._call(self._finish, next_state="finishing", take=False)
        return self._drain(chunk_size)

    def finish(self) -> bytes:
        return b"".join(self.finish_chunks())

    def close(self) -> None:
        """Frees the page codec and every temporary file; idempotent."""
        page, out = getattr(self, "_page", None), getattr(self, "_out", None)
        self._page = None
        if page is not None:
            page.close()
        if out is not None:
            out.close()
        if getattr(self, "_state", None) != "finished":
            self._state = "closed"

    __del__ = close

    def __enter__(self) -> DocumentEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # machinery

    def _expect(self, state: str) -> None:
        if self._state != state:
            raise EncoderError(f"document encoder is {self._state}, not {state}")

    def _call(self, step, *args, next_state: str | None = None, take: bool = True) -> bytes:
        try:
            step(*args)
            if next_state:
                self._state = next_state
            return self._out.take() if take else b""
        except BaseException:
            self.close()
            raise

    def _drain(self, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from self._out.chunks(chunk_size)
            self._state = "finished"
        finally:
            self.close()

    def _feed(self, data) -> None:
        self._out.write(self._page.feed(data))

    def _new_page(self, kind: str, spec: RasterSpec, spool: bool, max_rows: int, app1=None) -> PageEncoder:
        if self._page is not None:
            self._page.close()
        self._page = PageEncoder(kind, spec, self.quality, spool, max_rows, app1)
        return self._page

    def _close_page(self) -> None:
        page, self._page = self._page, None
        page.close()


class _SingleImageDocument(DocumentEncoder):
    """png, jfif, exif, dib, tiff-single-*: one page, its header in front of its pixels.

    The header states the height (and a G4 strip's size): with both known
    before the page ends it leaves at once and the pixels stream after it;
    otherwise the page is spooled and the header placed when it ends.
    """

    max_pages = 1

    def _start(self, spec: RasterSpec) -> None:
        kind = self.info.codec
        if kind == "jpeg" and max(spec.dpi_x, spec.dpi_y) > 0xFFFF:
            raise EncoderError("JPEG density is limited to 65535 dpi")
        app1 = partial(headers.exif_app1, spec.width, channels=spec.channels, dpi_x=spec.dpi_x,
                       dpi_y=spec.dpi_y) if self.format == "exif" else None
        # A G4 strip's size precedes it in the file: it is known only once the page is coded.
        page = self._new_page(kind, spec, spool=kind == "g4", max_rows=self._max_rows(spec), app1=app1)
        self.pages += 1
        if not page.spooled:
            self._out.write(self._header(spec, spec.height, 0))

    def _max_rows(self, spec: RasterSpec) -> int:
        row_bytes = self.info.bytes_per_line(spec.width, spec.channels, spec.depth)
        return {"jpeg": JPEG_MAX_DIMENSION, "dib": headers.bmp_max_rows(spec.channels, spec.depth, row_bytes or 1),
                "raw": headers.tiff_max_rows(row_bytes or 1)}.get(self.info.codec, headers.INT32_MAX)

    def _header(self, spec: RasterSpec, rows: int, coded_size: int) -> bytes:
        kind, s = self.info.codec, spec
        row_bytes = self.info.bytes_per_line(s.width, s.channels, s.depth)
        if kind == "png":
            return headers.png_header(s.width, rows, s.channels, s.depth, s.dpi_x, s.dpi_y)
        if kind == "dib":
            return headers.bmp_header(s.width, rows, s.channels, s.depth, s.dpi_x, s.dpi_y, row_bytes)
        if kind == "raw":
            return headers.tiff_header(s.width, rows, s.channels, s.depth, s.dpi_x, s.dpi_y, row_bytes * rows)
        if kind == "g4":
            if coded_size > headers.TIFF_MAX_STRIP:
                raise EncoderError("G4 data too large for a TIFF file")
            return headers.tiff_header(s.width, rows, 1, 1, s.dpi_x, s.dpi_y, coded_size, headers.TIFF_G4)
        return b""  # JPEG: the codec writes the whole file

    def _end(self) -> None:
        page = self._page
        tail = page.end()
        if page.spooled:
            self._out.write(self._header(page.spec, page.rows, page.size))
            self._out.write_file(page.take_file(), page.size)
        else:
            self._out.write(tail)
        self._close_page()

    def _finish(self) -> None:
        pass


class _TiffDocument(DocumentEncoder):
    """tiff-multi-*: header, then per page its strip followed by its directory."""

    def __init__(self, info: FileFormat, quality: int) -> None:
        super().__init__(info, quality)
        self._kind = info.codec
        self._compression = headers.TIFF_G4 if self._kind == "g4" else headers.TIFF_UNCOMPRESSED
        self._held: tuple[list, int] | None = None  # last page's directory and its offset
        self._data_at = self._ifd_at = 0

    def _start(self, spec: RasterSpec) -> None:
        row_bytes = spec.packed_bytes_per_line
        max_rows = headers.tiff_max_rows(row_bytes) if self._kind == "raw" else headers.INT32_MAX
        page = self._new_page(self._kind, spec, spool=self._kind == "g4", max_rows=max_rows)
        self.pages += 1
        if not page.spooled:
            self._place(spec, row_bytes * spec.height)

    def _place(self, spec: RasterSpec, size: int) -> None:
        """Writes what precedes this page's strip, now that its size is known."""
        if self._held is None:
            self._data_at = 8
            self._ifd_at = 8 + size + size % 2
            self._out.write(headers.tiff_start(self._ifd_at))
        else:
            entries, at = self._held
            assert at == self._out.pos
            self._data_at = at + headers.ifd_size(entries)
            self._ifd_at = self._data_at + size + size % 2
            self._out.write(headers.pack_ifd(entries, at, headers.tiff_order(), self._ifd_at))
        dummy = self._entries(spec, spec.height or 1, size)
        if self._ifd_at + headers.ifd_size(dummy) > headers.UINT32_MAX:
            raise EncoderError("document too large for TIFF's 32-bit offsets")

    def _entries(self, spec: RasterSpec, rows: int, size: int) -> list:
        return headers.tiff_entries(spec.width, rows, spec.channels, spec.depth, spec.dpi_x,
                                    spec.dpi_y, self._data_at, size, self._compression,
                                    page=self.pages - 1)

    def _end(self) -> None:
        page = self._page
        tail = page.end()
        spec = page.spec
        if page.spooled:
            size = page.size
            self._place(spec, size)
            self._out.write_file(page.take_file(), size)
        else:
            size = spec.packed_bytes_per_line * spec.height
            self._out.write(tail)
        self._out.write(bytes(size % 2))
        assert self._out.pos == self._ifd_at
        self._held = (self._entries(spec, page.rows, size), self._ifd_at)
        self._close_page()

    def _finish(self) -> None:
        entries, at = self._held
        self._out.write(headers.pack_ifd(entries, at, headers.tiff_order(), 0))


class _PdfDocument(DocumentEncoder):
    """pdf-a: PDF/A-1b, one image per page, JPEG for grey and colour, CCITT G4 for lineart."""

    CATALOG, PAGE_TREE = 1, 2

    def __init__(self, info: FileFormat, quality: int) -> None:
        super().__init__(info, quality)
        self._last = self.PAGE_TREE  # highest object number handed out
        self._offsets: dict[int, int] = {}
        self._leaves: list[tuple[int, list[int]]] = []  # page tree nodes under the root
        self._colour = False
        self._image = self._length = self._stream_at = 0
        self._when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self._id = uuid.uuid4().bytes

    def _number(self) -> int:
        self._last += 1
        return self._last

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._out.pos
        self._out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _stream_object(self, number: int, entries: bytes, data: bytes) -> None:
        self._object(number, b"<< %s /Length %d >>\nstream\n%s\nendstream"
                     % (entries, len(data), data))

    def _start(self, spec: RasterSpec) -> None:
        if not self.pages:
            # The comment's bytes over 127 mark the file as binary (PDF/A-1 6.1.2).
            self._out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        kind = "g4" if spec.depth == 1 else "jpeg"
        max_rows = headers.INT32_MAX if kind == "g4" else JPEG_MAX_DIMENSION
        page = self._new_page(kind, spec, spool=False, max_rows=max_rows)
        self.pages += 1
        self._image, self._length = self._number(), self._number()
        if not page.spooled:
            self._open_image(spec, spec.height)

    def _open_image(self, spec: RasterSpec, rows: int) -> None:
        if spec.depth == 1:
            # G4 black runs decode to 0 (BlackIs1 false), which DeviceGray shows black.
            kind = (b"/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode "
                    b"/DecodeParms << /K -1 /Columns %d /Rows %d >>" % (spec.width, rows))
        else:
            space = b"/DeviceRGB" if spec.channels == 3 else b"/DeviceGray"
            kind = b"/ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode" % space
        self._offsets[self._image] = self._out.pos
        self._out.write(b"%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d %s "
                        b"/Length %d 0 R >>\nstream\n"
                        % (self._image, spec.width, rows, kind, self._length))
        self._stream_at = self._out.pos

    def _end(self) -> None:
        page = self._page
        spec = page.spec
        tail = page.end()
        if page.spooled:
            self._open_image(spec, page.rows)
            self._out.write_file(page.take_file(), page.size)
        else:
            self._out.write(tail)
        length = self._out.pos - self._stream_at
        self._out.write(b"\nendstream\nendobj\n")
        self._object(self._length, b"%d" % length)

        width_pt = pdfa.number(spec.width * 72 / spec.dpi_x)
        height_pt = pdfa.number(page.rows * 72 / spec.dpi_y)
        contents = self._number()
        self._stream_object(contents, b"", b"q %s 0 0 %s 0 0 cm /Im0 Do Q"
                            % (width_pt, height_pt))
        if not self._leaves or len(self._leaves[-1][1]) >= PDF_LEAF_PAGES:
            self._leaves.append((self._number(), []))
        leaf, kids = self._leaves[-1]
        number = self._number()
        procset = b"/ImageC" if spec.channels == 3 else b"/ImageB"
        self._object(number, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] "
                     b"/Resources << /XObject << /Im0 %d 0 R >> /ProcSet [/PDF %s] >> "
                     b"/Contents %d 0 R >>"
                     % (leaf, width_pt, height_pt, self._image, procset, contents))
        kids.append(number)
        self._colour |= spec.channels == 3
        self._close_page()

    def _finish(self) -> None:
        channels = 3 if self._colour else 1
        icc = zlib.compress(pdfa.icc_profile(channels))
        profile, intent, metadata, info = (self._number() for _ in range(4))
        self._stream_object(profile, b"/N %d /Filter /FlateDecode" % channels, icc)
        condition = pdfa.OUTPUT_CONDITION[channels].encode("ascii")
        self._object(intent, b"<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier "
                     b"(%s) /Info (%s) /DestOutputProfile %d 0 R >>"
                     % (condition, condition, profile))
        self._stream_object(metadata, b"/Type /Metadata /Subtype /XML",
                            pdfa.xmp_metadata(self._when))
        self._object(info, pdfa.info_dictionary(self._when))
        for leaf, kids in self._leaves:
            self._object(leaf, b"<< /Type /Pages /Parent %d 0 R /Kids [%s] /Count %d >>"
                         % (self.PAGE_TREE, _refs(kids), len(kids)))
        self._object(self.PAGE_TREE, b"<< /Type /Pages /Kids [%s] /Count %d >>"
                     % (_refs(leaf for leaf, _ in self._leaves), self.pages))
        self._object(self.CATALOG, b"<< /Type /Catalog /Pages %d 0 R /Metadata %d 0 R "
                     b"/OutputIntents [%d 0 R] >>" % (self.PAGE_TREE, metadata, intent))

        xref_at = self._out.pos
        size = self._last + 1
        table = [b"xref\n0 %d\n0000000000 65535 f\r\n" % size]
        table += [b"%010d 00000 n\r\n" % self._offsets[n] for n in range(1, size)]
        ident = self._id.hex().encode("ascii")
        table.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\n"
                     b"startxref\n%d\n%%%%EOF\n"
                     % (size, self.CATALOG, info, ident, ident, xref_at))
        self._out.write(b"".join(table))


def _refs(numbers) -> bytes:
    return b" ".join(b"%d 0 R" % n for n in numbers)
