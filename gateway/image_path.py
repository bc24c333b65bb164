"""Raw SANE rows -> the project's encoder -> the pipe to the HTTP response.

The one place where a scanner frame meets a file format; the scanner layer
sees only a ``DocumentSink`` and its ``PageSink``s, the encoder only a ``RasterSpec``.
Here the frame is cropped to the ticket's image: the scanner scans on its own
(coarser) steps and says where the image lies in its frame.
"""

from __future__ import annotations

from twisted.logger import Logger

from gateway.imaging import DocumentEncoder, RasterSpec, can_encode, create_document_encoder, is_multi_page, \
    supported_formats
from gateway.model import ColorMode, FinalParameters, PixelWindow, UsedSide
from gateway.pipe import ThreadPipe
from gateway.scanner.saneapi import FrameParameters

log = Logger()

CONTENT_TYPES = {
    "png": "image/png",
    "jfif": "image/jpeg",
    "exif": "image/jpeg",
    "dib": "image/bmp",
    "tiff-single-uncompressed": "image/tiff",
    "tiff-single-g4": "image/tiff",
    "tiff-multi-uncompressed": "image/tiff",
    "tiff-multi-g4": "image/tiff",
    "pdf-a": "application/pdf",
}


def formats() -> tuple[str, ...]:
    """The formats the scan service advertises: exactly those the encoder can write."""
    return tuple(f for f in supported_formats() if f in CONTENT_TYPES)


def format_holds(fmt: str, color: ColorMode) -> bool:
    """Whether a file of this format can carry this colour mode (G4 is black and white only)."""
    return can_encode(fmt, color.channels, color.depth)


def content_type(fmt: str) -> str:
    return CONTENT_TYPES.get(fmt, "application/octet-stream")


def bytes_per_line(fmt: str, pixels_per_line: int, side: UsedSide) -> int:
    """WSD's BytesPerLine: 0 for compressed formats, the row as the file stores it otherwise."""
    if fmt == "dib":
        bits = {ColorMode.BLACK_AND_WHITE_1: 1, ColorMode.RGB_24: 24, ColorMode.RGB_48: 24}.get(side.color, 8)
        return (pixels_per_line * bits + 31) // 32 * 4
    if fmt.endswith("-uncompressed"):
        return (pixels_per_line * side.color.channels * side.color.depth + 7) // 8
    return 0


class DocumentSink:
    """One file per RetrieveImage: a single page, or every page of the job for multi-page formats.

    Runs on the device's threads: each page's strips are encoded and what is
    ready goes into the pipe at once.
    """

    def __init__(self, encoder: DocumentEncoder, pipe: ThreadPipe):
        self._encoder = encoder
        self._pipe = pipe
        self.multi_page = is_multi_page(encoder.format)

    def page(self, side: UsedSide, params: FrameParameters, crop: PixelWindow | None = None) -> "PageSink":
        self._pipe.write(self._encoder.start_page(raster_spec(side, params, crop)))
        return PageSink(self._encoder, self._pipe)

    def finish(self) -> None:
        try:
            for chunk in self._encoder.finish_chunks():
                self._pipe.write(chunk)
        finally:
            self._encoder.close()

    def abort(self) -> None:
        self._encoder.close()


class PageSink:
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


def open_document(final: FinalParameters, pipe: ThreadPipe) -> DocumentSink:
    quality = final.compression_quality.value
    return DocumentSink(create_document_encoder(final.format.value, quality), pipe)
