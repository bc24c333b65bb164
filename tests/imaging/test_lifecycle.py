"""Encoders can be cancelled at any time and never leak; misuse is reported."""
import gc
import itertools
import os
import random
import threading
import time
import tracemalloc

import pytest

from gateway.imaging import EncoderError, RasterSpec
from imaging_rasters import G4, end_page, layout_for, open_page, smooth_scan, spec_of_row_bytes

FORMATS = ["png", "jfif", "exif", "dib", "tiff-single-uncompressed", G4]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_close_mid_image_is_idempotent_and_ends_the_encoder(fmt):
    scan = smooth_scan(layout_for(fmt, "rgb24"))
    doc, _head = open_page(fmt, scan.spec)
    doc.feed(scan.sane_bytes[:1000])
    doc.close()
    doc.close()
    with pytest.raises(EncoderError):
        doc.feed(b"\0" * 10)
    with pytest.raises(EncoderError):
        end_page(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_finishing_with_rows_missing_is_an_error(fmt):
    scan = smooth_scan(layout_for(fmt, "grey8"))
    doc, _head = open_page(fmt, scan.spec)
    doc.feed(scan.sane_bytes[:-scan.spec.bytes_per_line])
    with pytest.raises(EncoderError, match="40 of 41 rows"):
        end_page(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeding_beyond_the_declared_height_is_an_error(fmt):
    scan = smooth_scan(layout_for(fmt, "grey8"))
    doc, _head = open_page(fmt, scan.spec)
    doc.feed(scan.sane_bytes)
    with pytest.raises(EncoderError, match="more image data"):
        doc.feed(b"\0")


@pytest.mark.parametrize("height", [41, None])
@pytest.mark.parametrize("fmt", FORMATS)
def test_finishing_inside_a_row_is_an_error(fmt, height):
    scan = smooth_scan(layout_for(fmt, "grey8"), height=height)
    doc, _head = open_page(fmt, scan.spec)
    doc.feed(scan.sane_bytes[:scan.spec.bytes_per_line * 5 + 3])
    with pytest.raises(EncoderError, match="incomplete"):
        end_page(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_height_with_no_rows_is_an_error(fmt):
    doc, _head = open_page(fmt, smooth_scan(layout_for(fmt, "grey8"), height=None).spec)
    with pytest.raises(EncoderError):
        end_page(doc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeding_after_finish_is_an_error(fmt):
    scan = smooth_scan(layout_for(fmt, "grey8"))
    doc, _head = open_page(fmt, scan.spec)
    doc.feed(scan.sane_bytes)
    end_page(doc)
    with pytest.raises(EncoderError, match="finished"):
        doc.feed(b"")
    doc.close()


def test_context_manager_closes_the_encoder():
    scan = smooth_scan("grey8")
    with open_page("png", scan.spec)[0] as doc:
        doc.feed(scan.sane_bytes[:100])
    with pytest.raises(EncoderError, match="closed"):
        doc.feed(b"")


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_cancelled_encoders_keep_memory_flat(fmt):
    width, rows = 1200, 16
    spec = spec_of_row_bytes(fmt, width * 3, 2000)
    strip = random.Random(3).randbytes(width * 3 * rows)

    def cancelled(i):
        doc, _head = open_page(fmt, spec)
        doc.feed(strip)
        if i % 2:
            doc.close()  # the other half is just dropped

    for i in range(20):
        cancelled(i)
    gc.collect()
    before = rss_bytes()
    for i in range(200):
        cancelled(i)
    gc.collect()
    assert rss_bytes() - before < 8 << 20


@pytest.mark.parametrize("fmt", FORMATS)
def test_encoders_that_failed_free_their_memory(fmt):
    width, rows = 1200, 16
    spec = spec_of_row_bytes(fmt, width * 3, rows - 1)
    strip = random.Random(4).randbytes(width * 3 * rows)

    def overfed():
        doc, _head = open_page(fmt, spec)
        with pytest.raises(EncoderError):
            doc.feed(strip)

    for _ in range(20):
        overfed()
    gc.collect()
    before = rss_bytes()
    for _ in range(200):
        overfed()
    gc.collect()
    assert rss_bytes() - before < 8 << 20


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_page_of_unknown_height_is_not_held_in_memory(fmt):
    width, strip_rows, strips = 2000, 50, 60  # 18 MB of RGB
    spec = spec_of_row_bytes(fmt, width * 3, None)
    strip = random.Random(6).randbytes(width * 3 * strip_rows)
    gc.collect()
    tracemalloc.start()
    try:
        doc, _head = open_page(fmt, spec)
        before, peak, size = rss_bytes(), 0, 0
        for _ in range(strips):
            doc.feed(strip)
            peak = max(peak, rss_bytes())
        for chunk in itertools.chain([doc.end_page()], doc.finish_chunks()):
            size += len(chunk)
            peak = max(peak, rss_bytes())
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size > 0
    assert peak - before < 10 << 20  # C side; blind to memory the heap had already
    assert python_peak < 10 << 20


@pytest.mark.parametrize("fmt", FORMATS)
def test_cancelled_unknown_height_encoders_leave_no_files_open(fmt):
    scan = smooth_scan(layout_for(fmt, "rgb24"), height=None)
    before = open_fds()
    for i in range(20):
        doc, _head = open_page(fmt, scan.spec)
        doc.feed(scan.sane_bytes)
        if i % 2:
            doc.close()
        del doc
    gc.collect()
    assert open_fds() == before


def test_a_large_feed_lets_other_threads_run():
    width, rows = 3000, 1000
    spec = RasterSpec(width, rows, width * 3, 3, 8, 300, 300)
    data = random.Random(5).randbytes(width * 3 * rows)
    solo, _head = open_page("png", spec)
    t0 = time.perf_counter()
    solo.feed(data)
    feed_seconds = time.perf_counter() - t0
    solo.close()

    doc, _head = open_page("png", spec)
    done = threading.Event()

    def work():
        doc.feed(data)
        done.set()

    worker = threading.Thread(target=work)
    longest_stall, last = 0.0, time.perf_counter()
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        longest_stall, last = max(longest_stall, now - last), now
    worker.join()
    doc.close()
    # Holding the GIL would stall this thread for the whole feed.
    assert longest_stall < feed_seconds / 2
