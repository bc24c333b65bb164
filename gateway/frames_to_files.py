"""The bridge from SANE frames to files: raw rows -> the project's encoder -> the pipe to the client.

The one place where a scanner frame meets a file format. The scanner core
sees only the ``DocumentSink`` and ``PageSink`` it is handed (a
``DocumentWriter`` and its ``PageWriter``s), the encoder only a ``RasterSpec``.
Here the frame is cropped to the ticket's image: the scanner scans on its own
(coarser) steps and says where the image lies in its frame. ``format_table``
hands the imaging table to the core as typed values.
"""

from __future__ import annotations

from twisted.logger import Logger

from gateway.imaging import FORMATS, DocumentEncoder, FileFormat, RasterSpec, create_document_encoder
from gateway.model import ColorMode, FinalParameters, FormatTable, ImageFormat, PixelWindow, UsedSide
from gateway.pipe import ThreadPipe
from gateway.scanner.saneapi import FrameParameters

log = Logger()


def _image_format(info: FileFormat) -> ImageFormat:
    return ImageFormat(
        name=info.name, content_type=info.content_type, lossless=info.lossless, multi_page=info.multi_page,
        colors=frozenset(c for c in ColorMode if info.holds(c.channels, c.depth)),
        row_bytes=lambda ppl, color: info.bytes_per_line(ppl, color.channels, color.depth))


def format_table() -> FormatTable:
    """Every format the encoder writes, as the scanner core sees them, in the table's order of preference."""
    return FormatTable(tuple(_image_format(info) for info in FORMATS.values()))


class DocumentWriter:
    """One file per RetrieveImage: a single page, or every page of the job for multi-page formats.

    Runs on the device's threads: each page's strips are encoded and what is
    ready goes into the pipe at once.
    """

    def __init__(self, encoder: DocumentEncoder, pipe: ThreadPipe):
        self._encoder = encoder
        self._pipe = pipe
        self.multi_page = encoder.info.multi_page

    def page(self, side: UsedSide, params: FrameParameters, crop: PixelWindow | None = None) -> "PageWriter":
        self._pipe.write(self._encoder.start_page(raster_spec(side, params, crop)))
        return PageWriter(self._encoder, self._pipe)

    def finish(self) -> None:
        try:
            for chunk in self._encoder.finish_chunks():
                self._pipe.write(chunk)
        finally:
            self._encoder.close()

    def abort(self) -> None:
        self._encoder.close()


class PageWriter:
    def __init__(self, encoder: DocumentEncoder, pipe: ThreadPipe):
        self._encoder = encoder
        self._pipe = pipe

    def write(self, raw: memoryview) -> None:
        self._pipe.write(self._encoder.feed(raw))

    def finish(self) -> None:
        self._pipe.write(self._encoder.end_page())

    def abort(self) -> None:
        self._encoder.close()


def raster_spec(side: UsedSide, params: FrameParameters, crop: PixelWindow | None = None) -> RasterSpec:
    """The frame as SANE delivers it, and the image to take from it (``crop``, in frame pixels).

    The crop is clipped to the frame this page really has (a backend may
    deliver a little less than it said before the scan); then the image is
    smaller than promised, and the log says so.
    """
    common = dict(bytes_per_line=params.bytes_per_line, channels=3 if params.format == "color" else 1,
                  depth=params.depth, dpi_x=side.resolution.width, dpi_y=side.resolution.height)
    lines = params.lines if params.lines > 0 else None
    if crop is None:
        return RasterSpec(width=params.pixels_per_line, height=lines, **common)
    x = min(crop.x, params.pixels_per_line - 1)
    width = min(crop.width, params.pixels_per_line - x)
    if lines is None:
        if width < crop.width:
            log.warn("the scanner's frame is {ppl} pixels wide, {short} short of the image",
                     ppl=params.pixels_per_line, short=crop.width - width)
        return RasterSpec(width=width, height=None, x_offset=x, y_offset=crop.y, extra_rows=None,
                          max_height=crop.height, **common)
    y = min(crop.y, lines - 1)
    height = min(crop.height, lines - y)
    if (width, height) != (crop.width, crop.height):
        log.warn("the scanner's frame is {ppl} x {lines} pixels, smaller than the image promised "
                 "({w} x {h} at {x}, {y})", ppl=params.pixels_per_line, lines=lines, w=crop.width,
                 h=crop.height, x=crop.x, y=crop.y)
    return RasterSpec(width=width, height=height, x_offset=x, y_offset=y, extra_rows=lines - y - height, **common)


def open_document(final: FinalParameters, pipe: ThreadPipe) -> DocumentWriter:
    return DocumentWriter(create_document_encoder(final.format.value, final.compression_quality.value), pipe)
