"""What can be asked for, and how impossible requests are refused."""
import pytest

from gateway.imaging import EncoderError, RasterSpec, can_encode, create_document_encoder, supported_formats
from imaging_rasters import open_page

GOOD = dict(width=100, height=50, bytes_per_line=100, channels=1, depth=8, dpi_x=300, dpi_y=300)
LAYOUTS = [(1, 1), (1, 8), (1, 16), (3, 8), (3, 16)]


def spec(**changes):
    return RasterSpec(**{**GOOD, **changes})


def test_supported_formats_are_wsd_names_that_all_take_lineart():
    assert {"png", "jfif", "exif", "dib", "tiff-single-uncompressed",
            "tiff-single-g4"} <= set(supported_formats())
    assert all(can_encode(fmt, 1, 1) for fmt in supported_formats())


@pytest.mark.parametrize("fmt", ["png", "jfif", "exif", "dib", "tiff-single-uncompressed"])
def test_continuous_tone_formats_take_every_sane_layout(fmt):
    assert all(can_encode(fmt, channels, depth) for channels, depth in LAYOUTS)


def test_g4_takes_lineart_only():
    assert [layout for layout in LAYOUTS if can_encode("tiff-single-g4", *layout)] == [(1, 1)]
    with pytest.raises(EncoderError):
        open_page("tiff-single-g4", spec())


@pytest.mark.parametrize("fmt,channels,depth", [
    ("png", 3, 1), ("png", 1, 4), ("png", 2, 8), ("gif", 1, 8), ("pdf-a", 3, 1),
    ("tiff-multi-g4", 1, 8), ("tiff-single-g4", 1, 8)])
def test_can_encode_refuses_what_does_not_work(fmt, channels, depth):
    assert not can_encode(fmt, channels, depth)


def test_unknown_format_is_an_encoder_error_naming_the_choices():
    with pytest.raises(EncoderError, match="png"):
        create_document_encoder("gif")


@pytest.mark.parametrize("bad", [
    dict(width=0), dict(height=0), dict(channels=2), dict(depth=4), dict(bytes_per_line=99),
    dict(dpi_x=0), dict(channels=3, bytes_per_line=299), dict(depth=1, bytes_per_line=12)])
def test_inconsistent_raster_spec_is_a_value_error(bad):
    with pytest.raises(ValueError):
        spec(**bad)


def test_lineart_rows_need_only_whole_bytes():
    assert spec(depth=1, bytes_per_line=13).packed_bytes_per_line == 13


def test_three_channel_lineart_is_an_encoder_error():
    with pytest.raises(EncoderError):
        open_page("png", spec(channels=3, depth=1))


@pytest.mark.parametrize("quality", [0, 101, -5])
def test_quality_outside_1_to_100_is_a_value_error(quality):
    with pytest.raises(ValueError):
        create_document_encoder("jfif", quality=quality)


@pytest.mark.parametrize("size", [dict(width=65501, bytes_per_line=65501), dict(height=65501)])
@pytest.mark.parametrize("fmt", ["jfif", "exif"])
def test_jpeg_larger_than_65500_pixels_is_an_encoder_error(fmt, size):
    with pytest.raises(EncoderError, match="65500"):
        open_page(fmt, spec(**size))


def test_jpeg_of_unknown_height_refuses_rows_beyond_65500():
    doc, _head = open_page("jfif", spec(width=8, bytes_per_line=8, height=None))
    with pytest.raises(EncoderError):
        doc.feed(bytes(8 * 65501))


def test_bmp_too_large_for_32_bit_sizes_is_an_encoder_error():
    with pytest.raises(EncoderError):
        open_page("dib", spec(width=60000, bytes_per_line=180000, channels=3, height=30000))


@pytest.mark.parametrize("junk", ["text", 42, None, [1, 2]])
def test_feeding_something_that_is_not_bytes_is_a_type_error(junk):
    doc, _head = open_page("png", spec())
    with pytest.raises(TypeError):
        doc.feed(junk)
    doc.close()


def test_encoder_error_is_an_ordinary_exception():
    assert issubclass(EncoderError, Exception)
