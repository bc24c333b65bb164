"""Output flows while rows are fed, and does not depend on how rows are split."""
import random

import pytest

from gateway.imaging import RasterSpec
from gateway.imaging.document import DRAIN_STEP
from imaging_rasters import G4, encode_page, end_page, layout_for, open_page, smooth_scan, spec_of_row_bytes

FORMATS = ["png", "jfif", "exif", "dib", "tiff-single-uncompressed", G4]


def encode_in_pieces(fmt, spec, data, piece):
    return encode_page(fmt, spec, data, piece=piece)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", ["lineart", "rgb48", "grey8"])
def test_output_is_the_same_for_whole_frame_single_rows_and_odd_byte_counts(fmt, layout):
    if fmt in ("jfif", "exif") and layout == "lineart":
        layout = "grey16"
    scan = smooth_scan(layout_for(fmt, layout))
    data = scan.sane_bytes
    whole = encode_in_pieces(fmt, scan.spec, data, len(data))
    for piece in (scan.spec.bytes_per_line, 1, 7, 13, scan.spec.bytes_per_line * 3 + 5):
        assert encode_in_pieces(fmt, scan.spec, data, piece) == whole, piece


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_accepts_any_bytes_like_object(fmt):
    scan = smooth_scan(layout_for(fmt, "rgb24"))
    data = scan.sane_bytes
    expected = encode_in_pieces(fmt, scan.spec, data, len(data))
    doc, head = open_page(fmt, scan.spec)
    half = len(data) // 2
    got = head + doc.feed(bytearray(data[:half])) + doc.feed(memoryview(data)[half:]) + end_page(doc)
    assert got == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_row_padding_and_stray_lineart_bits_do_not_reach_the_file(fmt):
    layout = "grey8" if fmt in ("jfif", "exif") else "lineart"
    tight, padded = smooth_scan(layout, padding=0), smooth_scan(layout, padding=9)
    assert (encode_in_pieces(fmt, tight.spec, tight.sane_bytes, 1000)
            == encode_in_pieces(fmt, padded.spec, padded.sane_bytes, 1000))


@pytest.mark.parametrize("fmt,first", [
    ("png", b"\x89PNG"), ("jfif", b"\xff\xd8"), ("exif", b"\xff\xd8"), ("dib", b"BM"),
    ("tiff-single-uncompressed", b"II*\0")])
def test_the_file_header_leaves_when_the_page_starts(fmt, first):
    scan = smooth_scan(layout_for(fmt, "grey8"))
    doc, head = open_page(fmt, scan.spec)
    assert (head + doc.feed(b"")).startswith(first)
    doc.close()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != G4])
def test_most_of_a_large_page_comes_out_before_finish(fmt):
    width, height = 800, 400
    spec = RasterSpec(width, height, width * 3, 3, 8, 300, 300)
    noise = random.Random(7).randbytes(width * 3 * height)
    doc, head = open_page(fmt, spec)
    early = len(head) + sum(len(doc.feed(noise[y * width * 3:(y + 1) * width * 3])) for y in range(height))
    late = len(end_page(doc))
    assert early > 0.9 * (early + late)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", ["lineart", "rgb48"])
def test_unknown_height_gives_the_file_a_known_height_would(fmt, layout):
    if fmt in ("jfif", "exif") and layout == "lineart":
        layout = "grey8"
    known = smooth_scan(layout_for(fmt, layout))
    unknown = smooth_scan(layout_for(fmt, layout), height=None, rows=41)
    data = known.sane_bytes
    expected = encode_in_pieces(fmt, known.spec, data, len(data))
    doc, head = open_page(fmt, unknown.spec)
    assert head == b"" and all(doc.feed(data[i:i + 500]) == b"" for i in range(0, len(data), 500))
    assert end_page(doc) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_height_output_leaves_in_bounded_pieces(fmt):
    width, rows = 500, 1000  # 1.5 MB uncompressed
    spec = spec_of_row_bytes(fmt, width * 3, None, 200)
    row = bytes((x * 7) % 256 for x in range(width * 3))
    expected = encode_page(fmt, spec_of_row_bytes(fmt, width * 3, rows, 200), row * rows)
    doc, head = open_page(fmt, spec)
    for _ in range(rows):
        doc.feed(row)
    pieces = [head, doc.end_page(), *doc.finish_chunks(chunk_size=16384)]
    assert b"".join(pieces) == expected
    if not doc.info.compressed:
        assert len(pieces) > 4 and max(map(len, pieces)) <= DRAIN_STEP + 16384 + 1000


def test_g4_output_comes_whole_at_finish_because_its_header_states_the_strip_size():
    scan = smooth_scan("lineart")
    doc, head = open_page(G4, scan.spec)
    assert head + doc.feed(scan.sane_bytes) == b""
    data = end_page(doc)
    assert data.startswith(b"II*\0") and len(data) > 200
