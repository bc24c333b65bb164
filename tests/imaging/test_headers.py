"""Facts the file headers must state: resolution, geometry, MIME types."""
import io
import struct

import pytest
from PIL import Image

from gateway.imaging import RasterSpec, format_info
from imaging_rasters import encode_page, read_png, smooth_scan

DPI = (300, 150)
PPM = (11811, 5906)  # 300 and 150 dpi in pixels per metre


def encode(fmt, layout="rgb24", **kw):
    scan = smooth_scan(layout, dpi=DPI, **kw)
    return encode_page(fmt, scan.spec, scan.sane_bytes)


def test_jfif_app0_density_is_the_scan_resolution_in_dpi():
    data = encode("jfif")
    assert data[:4] == b"\xff\xd8\xff\xe0"
    assert data[6:11] == b"JFIF\0"
    units, x, y = struct.unpack(">BHH", data[13:18])
    assert (units, x, y) == (1, *DPI)


def test_exif_replaces_app0_with_app1_carrying_resolution_in_inches():
    data = encode("exif")
    assert data[:4] == b"\xff\xd8\xff\xe1"
    assert b"JFIF\0" not in data[:200]
    assert data[6:12] == b"Exif\0\0"
    exif = Image.open(io.BytesIO(data)).getexif()
    assert (exif[0x011A], exif[0x011B], exif[0x0128]) == (300, 150, 2)


def test_exif_ifd_states_version_and_pixel_dimensions():
    exif = Image.open(io.BytesIO(encode("exif"))).getexif().get_ifd(0x8769)
    assert exif[0x9000] == b"0230"
    assert (exif[0xA002], exif[0xA003]) == (67, 41)


def test_png_phys_gives_resolution_in_pixels_per_metre():
    chunks = dict(read_png(encode("png")).chunks)
    assert struct.unpack(">IIB", chunks[b"pHYs"]) == (*PPM, 1)


def test_png_chunks_come_in_standard_order_with_idat_under_64k():
    png = read_png(encode("png", "rgb48", width=600, height=300))
    kinds = [k for k, _ in png.chunks]
    assert kinds[:2] == [b"IHDR", b"pHYs"] and kinds[-1] == b"IEND"
    idats = [body for k, body in png.chunks if k == b"IDAT"]
    assert len(idats) > 1 and all(len(b) <= 65536 for b in idats)
    assert set(kinds[2:-1]) == {b"IDAT"}


def test_png_picks_sub_for_horizontal_ramps_and_up_for_repeated_rows():
    width = 256
    ramp = bytes(range(256))
    noisy = bytes((i * 151 + 17) % 256 for i in range(width))
    spec = RasterSpec(width, 4, width, 1, 8, 300, 300)
    filters = read_png(encode_page("png", spec, ramp + ramp[::-1] + noisy + noisy)).filters
    assert filters[:2] == [1, 1]
    assert filters[3] == 2


@pytest.mark.parametrize("layout,bits,colours", [
    ("lineart", 1, 2), ("grey8", 8, 256), ("grey16", 8, 256), ("rgb24", 24, 0), ("rgb48", 24, 0)])
def test_dib_is_a_top_down_bmp_with_the_right_palette_and_ppm(layout, bits, colours):
    data = encode("dib", layout)
    magic, size, _, _, offset = struct.unpack("<2sIHHI", data[:14])
    (hsize, w, h, planes, bpp, compression, image_size, ppm_x, ppm_y, used,
     _) = struct.unpack("<IiiHHIIiiII", data[14:54])
    assert (magic, size) == (b"BM", len(data))
    assert (hsize, w, h, planes, bpp, compression) == (40, 67, -41, 1, bits, 0)
    assert (ppm_x, ppm_y) == PPM
    assert used == colours and offset == 54 + 4 * colours
    assert image_size == len(data) - offset == 41 * ((67 * bits + 31) // 32 * 4)


def test_dib_lineart_palette_has_black_at_index_1():
    data = encode("dib", "lineart")
    assert data[54:62] == bytes((255, 255, 255, 0, 0, 0, 0, 0))


def test_tiff_states_resolution_in_inches_and_one_strip():
    image = Image.open(io.BytesIO(encode("tiff-single-uncompressed")))
    tags = image.tag_v2
    assert (tags[282], tags[283], tags[296]) == (300, 150, 2)
    assert tags[259] == 1 and tags[278] == 41


@pytest.mark.parametrize("fmt,content_type,compressed", [
    ("png", "image/png", True), ("jfif", "image/jpeg", True), ("exif", "image/jpeg", True),
    ("dib", "image/bmp", False), ("tiff-single-uncompressed", "image/tiff", False),
    ("tiff-single-g4", "image/tiff", True)])
def test_the_format_table_gives_content_type_and_compression(fmt, content_type, compressed):
    info = format_info(fmt)
    assert (info.content_type, info.compressed) == (content_type, compressed)


@pytest.mark.parametrize("fmt,layout,row_bytes", [
    ("dib", "lineart", 12), ("dib", "grey16", 68), ("dib", "rgb24", 204),
    ("tiff-single-uncompressed", "lineart", 9), ("tiff-single-uncompressed", "rgb48", 402),
    ("png", "rgb24", 0), ("jfif", "grey8", 0), ("tiff-single-g4", "lineart", 0)])
def test_bytes_per_line_is_the_stored_row_size_or_zero_when_compressed(fmt, layout, row_bytes):
    spec = smooth_scan(layout).spec
    assert format_info(fmt).bytes_per_line(spec.width, spec.channels, spec.depth) == row_bytes


@pytest.mark.parametrize("fmt,layout", [("dib", "lineart"), ("dib", "grey16"), ("dib", "rgb48"),
                                        ("tiff-single-uncompressed", "lineart"),
                                        ("tiff-single-uncompressed", "rgb48")])
def test_the_file_stores_rows_of_the_size_the_table_gives(fmt, layout):
    scan = smooth_scan(layout)
    s = scan.spec
    data = encode_page(fmt, s, scan.sane_bytes)
    header = 54 + (8 if s.depth == 1 else 1024 if s.channels == 1 else 0) if fmt == "dib" else None
    pixels = len(data) - header if header is not None else Image.open(io.BytesIO(data)).tag_v2[279][0]
    assert pixels == len(scan.rows) * format_info(fmt).bytes_per_line(s.width, s.channels, s.depth)


def test_g4_tiff_is_white_is_zero_group_4_with_the_strip_size_stated():
    data = encode("tiff-single-g4", "lineart")
    tags = Image.open(io.BytesIO(data)).tag_v2
    assert (tags[259], tags[262], tags[258]) == (4, 0, (1,))
    assert (tags[282], tags[283], tags[296]) == (300, 150, 2)
    assert tags[273][0] + tags[279][0] == len(data)
