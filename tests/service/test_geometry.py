"""Exact geometry: the image is the ticket's region in pixels, whatever the scanner's own steps.

A region of w x h thousandths of an inch at r dpi is w*r/1000 x h*r/1000
pixels, rounded half up. SANE's test device moves in whole millimetres and
rounds each corner on its own, so the gateway scans the smallest area on
those steps that holds the region and crops the rest away.
"""

import io
import os
import subprocess

import pytest
from PIL import Image

from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"
MM_PER_INCH = 25.4
COLOURS = ["BlackAndWhite1", "Grayscale8", "Grayscale16", "RGB24", "RGB48"]
# (x offset, y offset, width, height) in thousandths of an inch, and a resolution.
REGIONS = [
    ((500, 500, 1250, 750), 150),  # the example: 188 x 113, not 183 x 112
    ((333, 777, 1001, 999), 200),
    ((123, 45, 678, 910), 300),
    ((250, 250, 3333, 1111), 75),
    ((50, 70, 1234, 567), 600),
    ((10, 10, 555, 444), 1200),
]


def px(thou: int, dpi: int) -> int:
    """thousandths of an inch -> pixels, rounded half up."""
    return (2 * thou * dpi + 1000) // 2000


def expected_size(region, dpi):
    return px(region[2], dpi), px(region[3], dpi)


def promised(reply):
    info = reply.find(".//wscn:ImageInformation/wscn:MediaFrontImageInfo")
    return int(info.findtext(W + "PixelsPerLine")), int(info.findtext(W + "NumberOfLines"))


def validate(gw, t):
    return call(gw.scan_url, "ValidateScanTicket", el("ValidateScanTicketRequest", t))


def scan(gw, **kw):
    created = create_job(gw.scan_url, ticket(**kw))
    assert created.status == 200, created.body
    job_id, token = job_of(created)
    image = retrieve(gw.scan_url, job_id, token)
    assert image.status == 200, image.body[:2000]
    return created, image


def final_region(created):
    region = created.find(".//wscn:DocumentFinalParameters/wscn:MediaSides/wscn:MediaFront/wscn:ScanRegion")
    return {child.tag[len(W):]: (int(child.text), dict(child.attrib)) for child in region}


@pytest.mark.parametrize("color", COLOURS)
@pytest.mark.parametrize("region, dpi", REGIONS)
def test_the_image_has_exactly_the_pixels_of_the_region(gateway, region, dpi, color):
    created, image = scan(gateway, fmt="png", color=color, dpi=dpi, region=region)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.size == expected_size(region, dpi)
    assert promised(created) == picture.size


@pytest.mark.parametrize("region, dpi", REGIONS)
def test_validate_and_create_promise_the_same_image(gateway, region, dpi):
    t = dict(fmt="png", color="Grayscale8", dpi=dpi, region=region)
    validated = validate(gateway, ticket(**t))
    created = create_job(gateway.scan_url, ticket(**t))
    call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_of(created)[0])))
    assert promised(validated) == promised(created) == expected_size(region, dpi)
    bytes_per_line = ".//wscn:MediaFrontImageInfo/wscn:BytesPerLine"
    assert validated.text(bytes_per_line) == created.text(bytes_per_line)


@pytest.mark.parametrize("fmt, color", [
    ("jfif", "RGB24"), ("exif", "Grayscale8"), ("dib", "BlackAndWhite1"), ("tiff-single-uncompressed", "RGB48"),
    ("tiff-single-g4", "BlackAndWhite1"), ("tiff-multi-uncompressed", "Grayscale16"),
    ("tiff-multi-g4", "BlackAndWhite1"),
])
def test_every_format_holds_exactly_the_region(gateway, fmt, color):
    region, dpi = (500, 500, 1250, 750), 150
    _created, image = scan(gateway, fmt=fmt, color=color, dpi=dpi, region=region)
    assert Image.open(io.BytesIO(image.image)).size == expected_size(region, dpi)


def test_a_region_the_scanner_holds_is_reported_as_used_without_override(gateway):
    created, _image = scan(gateway, fmt="png", color="Grayscale8", dpi=150, region=(500, 500, 1250, 750))
    assert final_region(created) == {"ScanRegionXOffset": (500, {}), "ScanRegionYOffset": (500, {}),
                                     "ScanRegionWidth": (1250, {}), "ScanRegionHeight": (750, {})}


def test_a_region_into_the_last_partial_pixel_of_the_platen_is_cut_and_says_so(gateway):
    # The platen is 300 mm = 11811.02 thousandths: at 600 dpi 7086.6 pixels, of which 7086 are whole.
    t = ticket(fmt="png", color="Grayscale8", dpi=600, region=(0, 0, 11811, 100))
    validated = validate(gateway, t)
    assert validated.text(".//wscn:ValidTicket") == "false"
    assert validated.text(".//wscn:ValidScanTicket//wscn:ScanRegionWidth") == "11810"
    created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=600, region=(0, 0, 11811, 100))
    assert promised(created) == promised(validated) == (7086, 60)
    assert Image.open(io.BytesIO(image.image)).size == (7086, 60)
    width, attrs = final_region(created)["ScanRegionWidth"]
    assert width == 11810 and attrs == {W + "Override": "true"}


def test_a_must_honor_region_the_platen_cannot_hold_in_whole_pixels_is_refused(gateway):
    t = ticket(fmt="png", color="Grayscale8", dpi=600, region=(0, 0, 11811, 100), must_honor=("ScanRegionWidth",))
    assert validate(gateway, t).fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"
    refused = create_job(gateway.scan_url, ticket(fmt="png", color="Grayscale8", dpi=600, region=(0, 0, 11811, 100),
                                                  must_honor=("ScanRegionWidth",)))
    assert refused.fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"


def test_the_default_region_is_the_whole_platen_in_whole_pixels(gateway):
    created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=75)
    assert Image.open(io.BytesIO(image.image)).size == (885, 885)  # 300 mm at 75 dpi: 885.8 pixels
    width, attrs = final_region(created)["ScanRegionWidth"]
    assert (width, attrs) == (11800, {W + "UsedDefault": "true"})


def test_a_region_smaller_than_a_pixel_is_one_pixel(gateway):
    created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=75, region=(1000, 1000, 5, 5))
    assert Image.open(io.BytesIO(image.image)).size == (1, 1) == promised(created)
    assert final_region(created)["ScanRegionWidth"] == (13, {W + "Override": "true"})


# -------------------------------------------------------------------- content


def device_frame(gw, tmp_path, dpi, mode, depth, area_mm):
    """What the test device itself scans for an area (tl-x, tl-y, br-x, br-y in mm), through scanimage."""
    tlx, tly, brx, bry = area_mm
    out = tmp_path / "frame.pnm"
    env = dict(os.environ, SANE_CONFIG_DIR=str(gw.state / "sane.d"))
    done = subprocess.run(["scanimage", "-d", "test:0", "--mode", mode, "--depth", str(depth), "--resolution",
                           str(dpi), "-l", str(tlx), "-t", str(tly), "-x", str(brx - tlx), "-y", str(bry - tly),
                           "--format=pnm", "-o", str(out)], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return Image.open(out)


@pytest.fixture(scope="module")
def pattern_gateway(tmp_path_factory):
    with GatewayProcess(tmp_path_factory.mktemp("pattern"),
                        test_conf='geometry_max 300.0\ntest-picture "Color pattern"\n') as gw:
        yield gw


@pytest.mark.parametrize("color, mode, depth", [("RGB24", "Color", 8), ("Grayscale8", "Gray", 8),
                                                ("BlackAndWhite1", "Gray", 1)])
@pytest.mark.parametrize("region, dpi", [((500, 500, 1250, 750), 150), ((123, 45, 678, 910), 300)])
def test_the_image_is_the_region_cut_from_the_smallest_millimetre_area_that_holds_it(
        pattern_gateway, tmp_path, region, dpi, color, mode, depth):
    # The device scans whole millimetres: down from the region's first pixel, up from past its last.
    x, y = px(region[0], dpi), px(region[1], dpi)
    w, h = expected_size(region, dpi)
    tl = [int(p * MM_PER_INCH / dpi) for p in (x, y)]
    br = [-int(-(p * MM_PER_INCH / dpi) // 1) for p in (x + w, y + h)]
    frame = device_frame(pattern_gateway, tmp_path, dpi, mode, depth, (*tl, *br))
    left, top = (int(p - t * dpi / MM_PER_INCH + 0.5) for p, t in zip((x, y), tl))
    want = frame.crop((left, top, left + w, top + h))
    _created, image = scan(pattern_gateway, fmt="png", color=color, dpi=dpi, region=region)
    got = Image.open(io.BytesIO(image.image))
    assert got.size == want.size
    assert got.convert(want.mode).tobytes() == want.tobytes()
