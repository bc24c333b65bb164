"""Raw SANE rows -> the project's encoder -> the pipe to the HTTP response.

The one place where a scanner frame meets a file format; the scanner layer
sees only a ``DocumentSink`` and its ``PageSink``s, the encoder only a ``RasterSpec``.
"""

from __future__ import annotations

from gateway.imaging import DocumentEncoder, RasterSpec, can_encode, create_document_encoder, is_multi_page, \
    supported_formats
from gateway.model import ColorMode, FinalParameters, UsedSide
from gateway.pipe import ThreadPipe
from gateway.scanner.saneapi import FrameParameters

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

    def page(self, side: UsedSide, params: FrameParameters) -> "PageSink":
        self._pipe.write(self._encoder.start_page(raster_spec(side, params)))
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


def raster_spec(side: UsedSide, params: FrameParameters) -> RasterSpec:
    return RasterSpec(
        width=params.pixels_per_line,
        height=params.lines if params.lines > 0 else None,
        bytes_per_line=params.bytes_per_line,
        channels=3 if params.format == "color" else 1,
        depth=params.depth,
        dpi_x=side.resolution.width,
        dpi_y=side.resolution.height,
    )


def open_document(final: FinalParameters, pipe: ThreadPipe) -> DocumentSink:
    quality = final.compression_quality.value
    return DocumentSink(create_document_encoder(final.format.value, quality), pipe)
