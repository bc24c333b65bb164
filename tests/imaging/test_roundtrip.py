"""Every format and SANE layout decodes back to the scanned pixels."""
import io
import random

import pytest
from PIL import Image

from gateway.imaging import RasterSpec
from imaging_rasters import LAYOUTS, encode_page, pillow_rows, psnr, read_png, smooth_scan

JPEG_MIN_PSNR_DB = 30.0


def encode(fmt, scan, **kw):
    return encode_page(fmt, scan.spec, scan.sane_bytes, **kw)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_png_holds_exact_samples_at_full_depth(layout):
    scan = smooth_scan(layout)
    png = read_png(encode("png", scan))
    assert (png.width, png.height, png.depth) == (scan.spec.width, 41, scan.spec.depth)
    assert png.colour_type == (2 if scan.spec.channels == 3 else 0)
    expected = scan.rows
    if scan.spec.depth == 1:
        expected = [[1 - v for v in r] for r in scan.rows]  # PNG: 0 is black
    assert png.samples() == expected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_png_opens_in_pillow_with_the_same_pixels(layout):
    scan = smooth_scan(layout)
    image = Image.open(io.BytesIO(encode("png", scan)))
    if scan.spec.depth == 16 and scan.spec.channels == 1:
        assert pillow_rows(image, 1) == scan.rows
    else:
        assert pillow_rows(image.convert("RGB" if scan.spec.channels == 3 else "L"),
                           scan.spec.channels) == scan.as_8bit()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_dib_holds_the_pixels_reduced_to_8_bits(layout):
    scan = smooth_scan(layout)
    image = Image.open(io.BytesIO(encode("dib", scan)))
    assert image.size == (scan.spec.width, 41)
    mode = "RGB" if scan.spec.channels == 3 else "L"
    assert pillow_rows(image.convert(mode), scan.spec.channels) == scan.as_8bit()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_uncompressed_tiff_holds_the_pixels(layout):
    scan = smooth_scan(layout)
    image = Image.open(io.BytesIO(encode("tiff-single-uncompressed", scan)))
    assert image.size == (scan.spec.width, 41)
    if scan.spec.depth == 16 and scan.spec.channels == 1:
        assert pillow_rows(image, 1) == scan.rows
    else:
        mode = "RGB" if scan.spec.channels == 3 else "L"
        assert pillow_rows(image.convert(mode), scan.spec.channels) == scan.as_8bit()


@pytest.mark.parametrize("fmt", ["jfif", "exif"])
@pytest.mark.parametrize("layout", ["grey8", "grey16", "rgb24", "rgb48"])
def test_jpeg_of_a_smooth_image_is_close_to_the_original(fmt, layout):
    scan = smooth_scan(layout)
    image = Image.open(io.BytesIO(encode(fmt, scan, quality=90)))
    assert image.mode == ("RGB" if scan.spec.channels == 3 else "L")
    assert image.size == (scan.spec.width, 41)
    assert psnr(pillow_rows(image, scan.spec.channels), scan.as_8bit()) > JPEG_MIN_PSNR_DB


@pytest.mark.parametrize("fmt", ["jfif", "exif"])
def test_jpeg_of_lineart_is_grey_with_black_where_sane_says_1(fmt):
    scan = smooth_scan("lineart")
    image = Image.open(io.BytesIO(encode(fmt, scan, quality=95)))
    assert image.mode == "L"
    got = [v for r in pillow_rows(image, 1) for v in r]
    want = [v for r in scan.as_8bit() for v in r]
    agree = sum((g < 128) == (w < 128) for g, w in zip(got, want))
    assert agree / len(want) > 0.99


def test_jpeg_quality_trades_size_for_fidelity():
    scan = smooth_scan("rgb24", 160, 120)
    low, high = encode("jfif", scan, quality=20), encode("jfif", scan, quality=95)
    assert len(low) < len(high)
    fidelity = [psnr(pillow_rows(Image.open(io.BytesIO(d)), 3), scan.rows) for d in (low, high)]
    assert fidelity[0] < fidelity[1]


INVERT = bytes(255 - b for b in range(256))


def g4_decoded_as_sane_bits(spec, sane):
    """libtiff's decoding (through Pillow) in SANE's bit convention, padding dropped."""
    image = Image.open(io.BytesIO(encode_bytes("tiff-single-g4", spec, sane)))
    assert image.mode == "1" and image.size == (spec.width, spec.height)
    return without_padding(spec, image.tobytes().translate(INVERT))  # Pillow's "1": 1 is white


def without_padding(spec, packed):
    stride, keep = spec.bytes_per_line, 0xFF & (0xFF << (-spec.width % 8))
    rows = [bytearray(packed[i:i + stride]) for i in range(0, len(packed), stride)]
    for row in rows:
        row[-1] &= keep
    return b"".join(rows)


def encode_bytes(fmt, spec, data):
    return encode_page(fmt, spec, data)


def test_g4_tiff_decodes_to_the_exact_lineart():
    scan = smooth_scan("lineart")
    image = Image.open(io.BytesIO(encode("tiff-single-g4", scan)))
    assert pillow_rows(image.convert("L"), 1) == scan.as_8bit()


def test_g4_codes_every_run_length_of_both_colours():
    width, longest = 6000, 2700  # past 2560, where make-up codes repeat
    row_bytes = width // 8
    blank = bytes(row_bytes)
    rows = []
    for run in range(longest):
        # Under an all-white row this is horizontal mode: white run, black run + 1.
        black = ((1 << (run + 1)) - 1) << (width - 2 * run - 1)
        rows += [blank, black.to_bytes(row_bytes, "big")]
    rows.append((((1 << 5500) - 1) << 100).to_bytes(row_bytes, "big"))
    sane = b"".join(rows)
    spec = RasterSpec(width, len(rows), row_bytes, 1, 1, 300, 300)
    assert g4_decoded_as_sane_bits(spec, sane) == sane


@pytest.mark.parametrize("ink", [0.02, 0.3, 0.5, 0.9])
def test_g4_codes_noise_of_any_density_exactly(ink):
    width, height = 203, 150
    rnd = random.Random(int(ink * 100))
    rows = []
    for y in range(height):
        bits = sum(1 << (width - 1 - x) for x in range(width) if rnd.random() < ink)
        rows.append((bits << (-width % 8)).to_bytes((width + 7) // 8, "big"))
    sane = b"".join(rows)
    spec = RasterSpec(width, height, (width + 7) // 8, 1, 1, 300, 300)
    assert g4_decoded_as_sane_bits(spec, sane) == sane
