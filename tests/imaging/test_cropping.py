"""Cropping a raw frame to the image inside it, in every format and layout, streamed.

A scanner scans on its own steps, so the frame it delivers may be a little
larger than the image the ticket asked for: the encoders take the image's
columns from each raw row (lineart that starts inside a byte is shifted) and
drop the raw rows above and below it.
"""
import io
from dataclasses import replace

import pytest
from PIL import Image

from gateway.imaging import EncoderError, RasterSpec, create_document_encoder
from gateway.imaging._encoder import Codec
from gateway.imaging.raster import RowWindow
from imaging_rasters import LAYOUTS, Scan, end_page, open_page, pillow_rows, psnr, read_png, smooth_scan
from pdf_check import run

FRAME_W, FRAME_H = 77, 53
LOSSLESS = ["png", "dib", "tiff-single-uncompressed", "tiff-multi-uncompressed"]
JPEG_MIN_PSNR_DB = 30.0


def cropped(scan: Scan, x: int, y: int, w: int, h: int, extra_rows: int | None = None,
            known: bool = True) -> tuple[RasterSpec, Scan]:
    """The spec that takes window (x, y, w, h) out of ``scan``'s frame, and the image it should give."""
    s = scan.spec
    channels = s.channels
    rows = [r[x * channels:(x + w) * channels] for r in scan.rows[y:y + h]]
    extra = len(scan.rows) - y - h if extra_rows is None else extra_rows
    spec = RasterSpec(w, h if known else None, s.bytes_per_line, channels, s.depth, s.dpi_x, s.dpi_y,
                      x_offset=x, y_offset=y, extra_rows=extra if known else None,
                      max_height=None if known else h)
    return spec, Scan(replace(spec, x_offset=0, y_offset=0), rows)


def feed_in_pieces(encoder, data: bytes, piece: int = 29) -> bytes:
    """Feeds in awkward pieces, so that rows and the window's edges fall inside a piece."""
    out = b""
    for i in range(0, len(data), piece):
        out += encoder.feed(data[i:i + piece])
    return out


def encode(fmt, spec, frame: Scan, quality=85) -> bytes:
    doc, head = open_page(fmt, spec, quality)
    return head + feed_in_pieces(doc, frame.sane_bytes) + end_page(doc)


def decoded(data: bytes, image: Scan) -> tuple[list[list[int]], list[list[int]]]:
    """The file's pixels, and what they should be: full 16-bit grey where the file keeps it, else 8-bit."""
    picture = Image.open(io.BytesIO(data))
    assert picture.size == (image.spec.width, len(image.rows))
    if picture.mode in ("I", "I;16", "I;16B"):
        return pillow_rows(picture, 1), image.rows
    channels = image.spec.channels
    return pillow_rows(picture.convert("RGB" if channels == 3 else "L"), channels), image.as_8bit()


def decoded_rows(data: bytes, image: Scan) -> list[list[int]]:
    return decoded(data, image)[0]


# Windows that start inside a byte of lineart, on a byte, at the frame's corner, and reach its far edge.
WINDOWS = [(5, 7, 41, 30), (8, 0, 16, 9), (0, 0, 3, 2), (13, 11, FRAME_W - 13, FRAME_H - 11), (76, 52, 1, 1)]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_png_of_a_window_holds_exactly_its_samples(layout, window):
    frame = smooth_scan(layout, width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, image = cropped(frame, *window)
    png = read_png(encode("png", spec, frame))
    assert (png.width, png.height) == window[2:]
    want = image.rows if image.spec.depth != 1 else [[1 - v for v in r] for r in image.rows]
    assert png.samples() == want


@pytest.mark.parametrize("fmt", LOSSLESS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_lossless_format_holds_the_window(fmt, layout):
    frame = smooth_scan(layout, width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, image = cropped(frame, 5, 7, 41, 30)
    got, want = decoded(encode(fmt, spec, frame), image)
    assert got == want


@pytest.mark.parametrize("fmt", ["tiff-single-g4", "tiff-multi-g4"])
@pytest.mark.parametrize("window", WINDOWS)
def test_g4_codes_the_window_of_a_lineart_frame(fmt, window):
    frame = smooth_scan("lineart", width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, image = cropped(frame, *window)
    assert decoded_rows(encode(fmt, spec, frame), image) == image.as_8bit()


@pytest.mark.parametrize("fmt", ["jfif", "exif"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_jpeg_of_a_window_decodes_close_to_it(fmt, layout):
    frame = smooth_scan(layout, width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, image = cropped(frame, 5, 7, 41, 30)
    got = decoded_rows(encode(fmt, spec, frame, quality=95), image)
    if layout == "lineart":
        assert sum(abs(g - w) < 64 for gr, wr in zip(got, image.as_8bit()) for g, w in zip(gr, wr)) \
            > 0.95 * 41 * 30
    else:
        assert psnr(got, image.as_8bit()) > JPEG_MIN_PSNR_DB


@pytest.mark.parametrize("layout", ["lineart", "grey8", "rgb24"])
def test_pdf_images_are_the_window(layout, tmp_path):
    frame = smooth_scan(layout, width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, image = cropped(frame, 5, 7, 41, 30)
    doc = create_document_encoder("pdf-a", 95)
    data = doc.start_page(spec) + feed_in_pieces(doc, frame.sane_bytes) + doc.end_page() + doc.finish()
    (tmp_path / "scan.pdf").write_bytes(data)
    run("pdfimages", "-j", str(tmp_path / "scan.pdf"), str(tmp_path / "img"))
    [file] = sorted(tmp_path.glob("img-*"))
    got = decoded_rows(file.read_bytes(), image)
    if layout == "lineart":
        assert got == image.as_8bit()
    else:
        assert psnr(got, image.as_8bit()) > JPEG_MIN_PSNR_DB


@pytest.mark.parametrize("fmt", ["png", "jfif", "dib", "tiff-single-uncompressed"])
def test_a_frame_of_unknown_height_is_cut_after_the_window(fmt):
    frame = smooth_scan("grey8", width=FRAME_W, height=None, rows=FRAME_H)
    spec, image = cropped(frame, 4, 6, 40, 20, known=False)
    got = decoded_rows(encode(fmt, spec, frame, quality=95), image)
    if fmt == "jfif":
        assert psnr(got, image.as_8bit()) > JPEG_MIN_PSNR_DB
    else:
        assert got == image.as_8bit()


def test_a_frame_of_unknown_height_that_ends_inside_the_window_gives_the_rows_it_had():
    frame = smooth_scan("rgb24", width=FRAME_W, height=None, rows=FRAME_H)
    spec = RasterSpec(30, None, frame.spec.bytes_per_line, 3, 8, 300, 300, x_offset=2, y_offset=40,
                      extra_rows=None, max_height=50)
    picture = Image.open(io.BytesIO(encode("png", spec, frame)))
    assert picture.size == (30, FRAME_H - 40)


def test_rows_beyond_those_the_frame_was_said_to_have_are_refused():
    frame = smooth_scan("grey8", width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, _image = cropped(frame, 0, 3, 10, 10, extra_rows=FRAME_H - 14)
    doc, _head = open_page("png", spec)
    with pytest.raises(EncoderError, match="more image data"):
        doc.feed(frame.sane_bytes)


def test_a_cropped_page_streams_while_it_is_fed():
    frame = smooth_scan("rgb24", width=FRAME_W, height=FRAME_H, rows=FRAME_H)
    spec, _image = cropped(frame, 3, 2, 60, 45)
    doc, _head = open_page("tiff-single-uncompressed", spec)
    bpl = frame.spec.bytes_per_line
    data = frame.sane_bytes
    first = doc.feed(data[:12 * bpl])
    assert len(first) >= 10 * 60 * 3  # ten image rows are out before the rest is scanned


def test_the_row_window_passes_slices_of_what_it_is_fed_never_copies():
    spec = RasterSpec(4, 2, 10, 1, 8, 300, 300, x_offset=3, y_offset=1, extra_rows=1)
    window = RowWindow(spec)
    buffer = bytearray(range(40))
    kept = window.take(memoryview(buffer))
    assert kept.obj is buffer and bytes(kept) == bytes(range(10, 30))


def test_a_window_wider_than_the_raw_row_is_refused():
    with pytest.raises(ValueError, match="bytes_per_line"):
        RasterSpec(10, 5, 12, 1, 8, 300, 300, x_offset=3)
    with pytest.raises(ValueError, match="bytes_per_line"):
        Codec("raw", 10, 5, 12, 1, 8, x_offset=3)
    with pytest.raises(ValueError, match="negative"):
        Codec("raw", 10, 5, 12, 1, 8, x_offset=-1)
