"""Documents of several pages (tiff-multi-*, pdf-a) and the document API over every format."""
import datetime
import gc
import io
import os
import random
import re
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from gateway.imaging import (DocumentEncoder, EncoderError, RasterSpec, can_encode,
                             create_document_encoder, is_multi_page, supported_formats)
from imaging_rasters import pillow_rows, psnr, smooth_scan
from pdf_check import Pdf, run

SINGLE = ["png", "jfif", "exif", "dib", "tiff-single-uncompressed", "tiff-single-g4"]
MULTI = ["tiff-multi-uncompressed", "tiff-multi-g4", "pdf-a"]
JPEG_MIN_PSNR_DB = 30.0
MIXED = ["rgb24", "grey16", "lineart", "rgb48", "grey8"]  # duplex sides can differ


def layouts_for(fmt):
    return ["lineart"] * 3 if fmt == "tiff-multi-g4" else MIXED


def scans_for(fmt, known=True, dpi=(300, 300)):
    return [smooth_scan(layout, width=61 + 9 * i, height=(37 + 5 * i) if known else None,
                        rows=37 + 5 * i, dpi=dpi)
            for i, layout in enumerate(layouts_for(fmt))]


def pinned(doc):
    """Fixes the PDF's date and ID so that two runs give the same bytes."""
    if hasattr(doc, "_when"):
        doc._when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
        doc._id = bytes(range(16))
    return doc


def encode_document(fmt, scans, piece=None, quality=85, calls=None):
    doc = pinned(create_document_encoder(fmt, quality))
    out = calls if calls is not None else []
    for scan in scans:
        out.append(("start", doc.start_page(scan.spec)))
        data = scan.sane_bytes
        step = piece or len(data)
        for i in range(0, len(data), step):
            out.append(("feed", doc.feed(data[i:i + step])))
        out.append(("end", doc.end_page()))
    out += [("finish", c) for c in doc.finish_chunks()]
    return b"".join(c for _, c in out)


def expected_8bit(image, scan):
    mode = "RGB" if scan.spec.channels == 3 else "L"
    return pillow_rows(image.convert(mode), scan.spec.channels)


# -------------------------------------------------------------------- API

def test_multi_page_formats_are_supported_and_flagged():
    assert set(MULTI) <= set(supported_formats())
    assert [f for f in supported_formats() if is_multi_page(f)] == MULTI
    assert not is_multi_page("gif")


def test_layouts_the_multi_page_formats_take():
    layouts = [(1, 1), (1, 8), (1, 16), (3, 8), (3, 16)]
    assert all(can_encode("tiff-multi-uncompressed", *lay) for lay in layouts)
    assert all(can_encode("pdf-a", *lay) for lay in layouts)
    assert [lay for lay in layouts if can_encode("tiff-multi-g4", *lay)] == [(1, 1)]


@pytest.mark.parametrize("fmt,content_type", [
    ("png", "image/png"), ("jfif", "image/jpeg"), ("dib", "image/bmp"),
    ("tiff-single-g4", "image/tiff"), ("tiff-multi-uncompressed", "image/tiff"),
    ("tiff-multi-g4", "image/tiff"), ("pdf-a", "application/pdf")])
def test_document_encoder_states_its_content_type(fmt, content_type):
    doc = create_document_encoder(fmt)
    assert isinstance(doc, DocumentEncoder) and doc.content_type == content_type
    doc.close()


def test_unknown_format_and_bad_quality_are_refused():
    with pytest.raises(EncoderError, match="pdf-a"):
        create_document_encoder("gif")
    with pytest.raises(ValueError):
        create_document_encoder("pdf-a", quality=0)


@pytest.mark.parametrize("fmt", SINGLE)
def test_single_page_formats_give_the_same_file_whether_the_height_is_known_or_not(fmt):
    scan = smooth_scan("lineart" if fmt == "tiff-single-g4" else "rgb24")
    expected = encode_document(fmt, [scan])
    assert encode_document(fmt, [scan], piece=100) == expected
    unknown = smooth_scan("lineart" if fmt == "tiff-single-g4" else "rgb24", height=None)
    assert encode_document(fmt, [unknown], piece=100) == expected


@pytest.mark.parametrize("fmt", SINGLE)
def test_single_page_formats_refuse_a_second_page(fmt):
    scan = smooth_scan("lineart" if fmt == "tiff-single-g4" else "grey8")
    doc = create_document_encoder(fmt)
    doc.start_page(scan.spec)
    doc.feed(scan.sane_bytes)
    doc.end_page()
    with pytest.raises(EncoderError, match="single page"):
        doc.start_page(scan.spec)


# ------------------------------------------------------------------ TIFF

def tiff_frames(data):
    image = Image.open(io.BytesIO(data))
    frames = []
    for i in range(image.n_frames):
        image.seek(i)
        frame = image.copy()
        frame.tags = dict(image.tag_v2)
        frames.append(frame)
    return frames


@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("fmt", ["tiff-multi-uncompressed", "tiff-multi-g4"])
def test_multi_page_tiff_holds_every_page_exactly(fmt, known):
    scans = scans_for(fmt, known, dpi=(300, 150))
    frames = tiff_frames(encode_document(fmt, scans, piece=333))
    assert len(frames) == len(scans)
    for i, (frame, scan) in enumerate(zip(frames, scans)):
        assert frame.size == (scan.spec.width, len(scan.rows))
        if scan.spec.depth == 16 and scan.spec.channels == 1:
            assert pillow_rows(frame, 1) == scan.rows
        else:
            assert expected_8bit(frame, scan) == scan.as_8bit()
        tags = frame.tags
        assert (tags[282], tags[283], tags[296]) == (300, 150, 2)
        assert tags[254] == 2 and tags[297] == (i, 0)
        assert tags[259] == (4 if fmt.endswith("g4") else 1)


@pytest.mark.parametrize("fmt", ["tiff-multi-uncompressed", "tiff-multi-g4"])
def test_tiffinfo_reads_every_directory_without_complaint(fmt, tmp_path):
    path = tmp_path / "doc.tif"
    path.write_bytes(encode_document(fmt, scans_for(fmt)))
    report = run("tiffinfo", "-D", str(path))
    assert report.count("TIFF Directory") == len(layouts_for(fmt))
    assert not re.search(r"(?i)error|warning", report), report


@pytest.mark.parametrize("fmt", MULTI)
def test_output_does_not_depend_on_how_rows_are_split_or_heights_known(fmt):
    whole = encode_document(fmt, scans_for(fmt))
    for piece in (1, 7, 500):
        assert encode_document(fmt, scans_for(fmt), piece=piece) == whole
    assert encode_document(fmt, scans_for(fmt, known=False), piece=77) == whole


def test_uncompressed_multi_page_tiff_streams_all_but_the_last_directory():
    width, height = 300, 200
    spec = RasterSpec(width, height, width * 3, 3, 8, 300, 300)
    noise = random.Random(1).randbytes(width * 3 * height)
    doc = create_document_encoder("tiff-multi-uncompressed")
    sent = 0
    for page in range(3):
        head = doc.start_page(spec)
        assert head.startswith(b"II*\0") if page == 0 else 100 < len(head) < 400
        for y in range(height):
            got = doc.feed(noise[y * width * 3:(y + 1) * width * 3])
            assert len(got) == width * 3  # every row leaves at once
            sent += len(got)
        doc.end_page()
    last = b"".join(doc.finish_chunks())
    assert sent == 3 * len(noise) and len(last) < 400


def test_g4_pages_leave_when_each_page_ends():
    scans = scans_for("tiff-multi-g4")
    calls = []
    data = encode_document("tiff-multi-g4", scans, calls=calls)
    ends = [c for kind, c in calls if kind == "end"]
    assert all(len(c) > 50 for c in ends)
    assert sum(len(c) for kind, c in calls if kind == "finish") < 400
    assert len(data) == sum(len(c) for _, c in calls)


# ------------------------------------------------------------------- PDF

def write_pdf(tmp_path, scans, **kw) -> Path:
    path = tmp_path / "doc.pdf"
    path.write_bytes(encode_document("pdf-a", scans, **kw))
    return path


def test_qpdf_finds_no_errors_and_pdfinfo_reads_pages_and_sizes(tmp_path):
    scans = scans_for("pdf-a", dpi=(300, 150))
    path = write_pdf(tmp_path, scans)
    assert "No syntax or stream encoding errors" in run("qpdf", "--check", str(path))
    info = run("pdfinfo", str(path))
    assert re.search(r"PDF version:\s+1\.4", info)
    assert re.search(rf"Pages:\s+{len(scans)}\b", info)
    assert re.search(r"Encrypted:\s+no", info)
    info = run("pdfinfo", "-f", "1", "-l", str(len(scans)), str(path))
    for i, scan in enumerate(scans, 1):
        w, h = scan.spec.width * 72 / 300, len(scan.rows) * 72 / 150
        m = re.search(rf"Page\s+{i} size:\s+([\d.]+) x ([\d.]+) pts", info)
        assert m and abs(float(m[1]) - w) < 0.01 and abs(float(m[2]) - h) < 0.01


def test_pdf_images_are_jpeg_or_ccitt_and_decode_to_the_scan(tmp_path):
    scans = scans_for("pdf-a")
    path = write_pdf(tmp_path, scans, quality=90)
    listing = run("pdfimages", "-list", str(path)).splitlines()[2:]
    assert [line.split()[8] for line in listing] == [
        "ccitt" if s.spec.depth == 1 else "jpeg" for s in scans]
    run("pdfimages", "-j", str(path), str(tmp_path / "img"))
    files = sorted(tmp_path.glob("img-*"))
    assert len(files) == len(scans)
    for file, scan in zip(files, scans):
        image = Image.open(file)
        assert image.size == (scan.spec.width, len(scan.rows))
        got = expected_8bit(image, scan)
        if scan.spec.depth == 1:
            assert got == scan.as_8bit()
        else:
            assert file.suffix == ".jpg"
            assert psnr(got, scan.as_8bit()) > JPEG_MIN_PSNR_DB


def test_pdf_pages_render_to_the_scan(tmp_path):
    scans = scans_for("pdf-a")
    path = write_pdf(tmp_path, scans, quality=90)
    for i, scan in enumerate(scans, 1):
        prefix = tmp_path / f"page{i}"
        size = [str(scan.spec.width), "-scale-to-y", str(len(scan.rows))]
        run("pdftoppm", "-scale-to-x", *size, "-f", str(i), "-l", str(i), "-singlefile",
            *([] if scan.spec.channels == 3 else ["-gray"]), str(path), str(prefix))
        image = Image.open(next(tmp_path.glob(f"page{i}.p?m")))
        assert image.size == (scan.spec.width, len(scan.rows))
        got, want = expected_8bit(image, scan), scan.as_8bit()
        if scan.spec.depth == 1:
            # The renderer's resampling may shift an edge by a pixel; pdfimages checks exactly.
            pairs = [(g < 128, w < 128) for gr, wr in zip(got, want) for g, w in zip(gr, wr)]
            assert sum(g == w for g, w in pairs) / len(pairs) > 0.85
        else:
            assert psnr(got, want) > JPEG_MIN_PSNR_DB - 2


@pytest.mark.parametrize("layouts,channels", [(["grey8", "lineart"], 1), (MIXED, 3)])
def test_pdf_is_pdf_a_1b(layouts, channels):
    scans = [smooth_scan(lay, width=50 + i) for i, lay in enumerate(layouts)]
    data = encode_document("pdf-a", scans)
    assert data.startswith(b"%PDF-1.4\n%")
    comment = data.split(b"\n")[1]
    assert len(comment) >= 5 and all(b > 127 for b in comment[1:5])
    pdf = Pdf(data)
    assert "/Encrypt" not in pdf.trailer
    assert re.search(r"/ID \[<([0-9a-f]{32})> <\1>\]", pdf.trailer)
    for obj in pdf.objects.values():
        assert "LZW" not in obj.text and "/Interpolate true" not in obj.text
        assert "/Filter" not in obj.text or re.search(r"/Filter /(DCT|CCITTFax|Flate)Decode",
                                                      obj.text)
    catalog = pdf.catalog.text
    metadata = pdf.ref(catalog, "Metadata")
    assert "/Subtype /XML" in metadata.text and "/Filter" not in metadata.text
    xmp = metadata.stream.decode("utf-8")
    assert "<pdfaid:part>1</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    info = pdf.ref(pdf.trailer, "Info").text
    produced = re.search(r"<pdf:Producer>(.*)</pdf:Producer>", xmp)[1]
    assert f"/Producer ({produced})" in info
    created = re.search(r"<xmp:CreateDate>(.*)</xmp:CreateDate>", xmp)[1]
    d = re.sub(r"[-:T]", "", created[:19])
    assert f"/CreationDate (D:{d}+00'00')" in info

    intents = re.findall(r"(\d+) 0 R", pdf.value(catalog, "OutputIntents"))
    assert len(intents) == 1
    intent = pdf.objects[int(intents[0])].text
    assert "/S /GTS_PDFA1" in intent and "/OutputConditionIdentifier" in intent
    profile = pdf.ref(intent, "DestOutputProfile")
    assert pdf.value(profile.text, "N") == str(channels)
    icc = ImageCms.ImageCmsProfile(io.BytesIO(pdf.decoded(profile)))
    assert icc.profile.xcolor_space.strip() == ("RGB" if channels == 3 else "GRAY")
    assert icc.profile.version < 3  # PDF 1.4 reads ICC v2 profiles

    pages = pdf.pages()
    assert len(pages) == len(scans)
    for page in pages:
        image = pdf.objects[int(re.search(r"/Im0 (\d+) 0 R", page.text)[1])]
        assert "/Subtype /Image" in image.text and "/SMask" not in image.text


def test_generated_profiles_are_srgb_and_a_neutral_grey():
    from gateway.imaging import pdfa
    srgb = ImageCms.createProfile("sRGB")
    ours = ImageCms.ImageCmsProfile(io.BytesIO(pdfa.icc_profile(3)))
    ramp = Image.new("RGB", (256, 1))
    ramp.putdata([(i, 255 - i, i * 7 % 256) for i in range(256)])
    back = ImageCms.profileToProfile(ramp, srgb, ours)
    assert max(abs(a - b) for p, q in zip(ramp.getdata(), back.getdata())
               for a, b in zip(p, q)) <= 1
    grey = ImageCms.ImageCmsProfile(io.BytesIO(pdfa.icc_profile(1)))
    wedge = Image.new("L", (256, 1))
    wedge.putdata(list(range(256)))
    as_rgb = ImageCms.profileToProfile(wedge, grey, srgb, outputMode="RGB")
    assert max(abs(i - c) for i, px in enumerate(as_rgb.getdata()) for c in px) <= 1


def test_many_pages_get_a_two_level_page_tree(monkeypatch):
    from gateway.imaging import document
    monkeypatch.setattr(document, "PDF_LEAF_PAGES", 3)
    scan = smooth_scan("lineart", width=16, height=8)
    pdf = Pdf(encode_document("pdf-a", [scan] * 7))
    assert len(pdf.pages()) == 7
    assert "/Count 7" in pdf.ref(pdf.catalog.text, "Pages").text


def test_a_pdf_jpeg_page_streams_while_it_is_fed():
    width, height = 800, 400
    spec = RasterSpec(width, height, width * 3, 3, 8, 300, 300)
    noise = random.Random(7).randbytes(width * 3 * height)
    doc = create_document_encoder("pdf-a")
    early = len(doc.start_page(spec))
    early += sum(len(doc.feed(noise[y * width * 3:(y + 1) * width * 3])) for y in range(height))
    late = len(doc.end_page()) + sum(map(len, doc.finish_chunks()))
    assert early > 0.9 * (early + late)


# ------------------------------------------------------------ lifecycle

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("fmt", MULTI + ["png"])
def test_calls_out_of_order_are_errors_that_close_the_encoder(fmt):
    scan = smooth_scan("lineart")
    for misuse in ("feed", "end", "finish_open", "finish_empty", "start_twice"):
        doc = create_document_encoder(fmt)
        with pytest.raises(EncoderError):
            if misuse == "feed":
                doc.feed(b"\0")
            elif misuse == "end":
                doc.end_page()
            elif misuse == "finish_empty":
                doc.finish_chunks()
            else:
                doc.start_page(scan.spec)
                if misuse == "start_twice":
                    doc.start_page(scan.spec)
                else:
                    doc.finish_chunks()
        doc.close()
        doc.close()


@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("fmt", MULTI)
def test_a_page_with_rows_missing_or_extra_is_an_error(fmt, known):
    scan = smooth_scan("lineart", height=41 if known else None)
    doc = create_document_encoder(fmt)
    doc.start_page(scan.spec)
    doc.feed(scan.sane_bytes[:-scan.spec.bytes_per_line - 1])
    with pytest.raises(EncoderError, match="incomplete|rows"):
        doc.end_page()
    with pytest.raises(EncoderError, match="closed"):
        doc.feed(b"")
    if known:
        doc = create_document_encoder(fmt)
        doc.start_page(scan.spec)
        with pytest.raises(EncoderError, match="more image data"):
            doc.feed(scan.sane_bytes + b"\0")


def test_g4_document_refuses_a_grey_page():
    doc = create_document_encoder("tiff-multi-g4")
    with pytest.raises(EncoderError, match="cannot hold"):
        doc.start_page(smooth_scan("grey8").spec)


@pytest.mark.parametrize("fmt", MULTI)
def test_many_cancelled_documents_keep_memory_flat_and_files_closed(fmt):
    width, rows = 1200, 16
    if fmt == "tiff-multi-g4":
        spec = RasterSpec(width * 8, None, width, 1, 1, 300, 300)
        strip = random.Random(3).randbytes(width * rows * 3)
    else:
        spec = RasterSpec(width, None, width * 3, 3, 8, 300, 300)
        strip = random.Random(3).randbytes(width * 3 * rows)
    known = RasterSpec(spec.width, rows, spec.bytes_per_line, spec.channels, spec.depth, 300, 300)

    def cancelled(i):
        doc = create_document_encoder(fmt)
        for page_spec in (known, spec):  # a finished page, then one cut short
            doc.start_page(page_spec)
            doc.feed(strip[:known.bytes_per_line * rows])
            if page_spec is known:
                doc.end_page()
        doc.feed(strip)
        if i % 2:
            doc.close()  # the other half is just dropped

    for i in range(20):
        cancelled(i)
    gc.collect()
    before, fds = rss_bytes(), open_fds()
    for i in range(200):
        cancelled(i)
    gc.collect()
    assert rss_bytes() - before < 8 << 20
    assert open_fds() == fds


@pytest.mark.parametrize("fmt", ["tiff-multi-uncompressed", "pdf-a"])
def test_pages_of_unknown_height_are_not_held_in_memory(fmt):
    width, strip_rows, strips = 2000, 50, 40  # 12 MB of RGB per page
    spec = RasterSpec(width, None, width * 3, 3, 8, 300, 300)
    strip = random.Random(6).randbytes(width * 3 * strip_rows)
    gc.collect()
    tracemalloc.start()
    try:
        doc = create_document_encoder(fmt)
        before, peak, size, largest = rss_bytes(), 0, 0, 0
        for _ in range(2):
            for out in [doc.start_page(spec)] + [doc.feed(strip) for _ in range(strips)] + [
                    doc.end_page()]:
                size += len(out)
                largest = max(largest, len(out))
                peak = max(peak, rss_bytes())
        for chunk in doc.finish_chunks():
            size += len(chunk)
            largest = max(largest, len(chunk))
            peak = max(peak, rss_bytes())
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size > 2 * len(strip) * (strips if fmt.startswith("tiff") else 1) / 10
    assert largest <= 4 << 20
    assert peak - before < 16 << 20
    assert python_peak < 16 << 20


def test_a_spooled_page_drains_in_bounded_pieces_during_the_next_page():
    width, rows = 1000, 1000  # 3 MB uncompressed
    unknown = RasterSpec(width, None, width * 3, 3, 8, 300, 300)
    known = RasterSpec(width, rows, width * 3, 3, 8, 300, 300)
    data = random.Random(8).randbytes(width * 3 * rows)
    doc = create_document_encoder("tiff-multi-uncompressed")
    pieces = [doc.start_page(unknown), doc.feed(data), doc.end_page(), doc.start_page(known)]
    step = width * 3 * 10
    pieces += [doc.feed(data[i:i + step]) for i in range(0, len(data), step)]
    pieces.append(doc.end_page())
    last = list(doc.finish_chunks())
    assert max(map(len, pieces)) <= (1 << 20) + step + 1000
    assert 0 < len(pieces[2]) < len(data)  # the first page starts leaving when it ends
    assert sum(map(len, last)) < 400  # and the rest left during the second page
    frames = tiff_frames(b"".join(pieces + last))
    assert [f.tobytes() for f in frames] == [data, data]
