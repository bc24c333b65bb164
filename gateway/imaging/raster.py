"""The raw rows of a page as SANE delivers them, and the window of them that is the image."""
from __future__ import annotations

from dataclasses import dataclass

from ._encoder import EncoderError


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
