"""sane-airscan, a WSD client nobody here wrote, scans through the gateway with scanimage."""

import time

import pytest
from PIL import Image

from tests.support.airscan import SLOW_TEST_CONF, cancel_mid_scan, client_config, scanimage
from tests.support.gateway_process import GatewayProcess
from tests.support.soap_client import call, el

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(gateway, tmp_path_factory):
    return client_config(tmp_path_factory.mktemp("airscan"), gateway.scan_url)


def scan(client, out, *args):
    result = scanimage(client, *args, "--format=png", "-o", str(out))
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return Image.open(out)


def test_flatbed_colour_300_dpi_a4(client, tmp_path):
    picture = scan(client, tmp_path / "a4.png", "--source", "Flatbed", "--mode", "Color", "--resolution", "300",
                   "-x", "210", "-y", "297")
    assert picture.mode == "RGB"
    assert picture.size == (2480, 3508)


def test_flatbed_grey_150_dpi(client, tmp_path):
    picture = scan(client, tmp_path / "grey.png", "--source", "Flatbed", "--mode", "Gray", "--resolution", "150",
                   "-x", "100", "-y", "100")
    assert picture.mode == "L"
    assert picture.size == (591, 591)


def test_flatbed_colour_600_dpi_over_the_whole_test_area(client, tmp_path):
    picture = scan(client, tmp_path / "big.png", "--source", "Flatbed", "--mode", "Color", "--resolution", "600",
                   "-x", "300", "-y", "300")
    assert picture.mode == "RGB"
    assert picture.size == (7087, 7087)


def test_feeder_delivers_every_sheet_then_ends_on_the_empty_feeder(client, tmp_path):
    result = scanimage(client, "--source", "ADF", "--mode", "Gray", "--resolution", "75", "-x", "100", "-y", "100",
                       "--format=png", f"--batch={tmp_path}/page%02d.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 10  # the test backend's feeder holds ten sheets
    assert all(Image.open(p).size == (295, 295) for p in pages)
    assert b"out of documents" in result.stderr or b"Document feeder" in result.stderr


def test_cancelled_scan_cancels_the_job_and_the_scanner_stays_usable(tmp_path):
    with GatewayProcess(tmp_path / "gw", test_conf=SLOW_TEST_CONF) as gw:
        client = client_config(tmp_path, gw.scan_url)
        cancel_mid_scan(client, gw.log, tmp_path / "cancelled.png")
        deadline = time.monotonic() + 20
        state = None
        while time.monotonic() < deadline:
            history = call(gw.scan_url, "GetJobHistory", el("GetJobHistoryRequest"))
            state = history.text(".//wscn:JobSummary/wscn:JobState")
            if state:
                break
            time.sleep(0.2)
        assert state == "Canceled", gw.log()[-3000:]
        assert "cancelled" in gw.log() or "JobCompletedWithErrors" in gw.log()
        picture = scan(client, tmp_path / "after.png", "--mode", "Gray", "--resolution", "75", "-x", "50", "-y", "50")
        assert picture.size == (148, 148)


def test_sane_airscan_scans_from_a_gateway_that_sends_images_with_a_content_length(tmp_path):
    with GatewayProcess(tmp_path / "gw", config="image_transfer = length\n") as gw:
        client = client_config(tmp_path, gw.scan_url)
        picture = scan(client, tmp_path / "length.png", "--mode", "Color", "--resolution", "150", "-x", "100",
                       "-y", "50")
        assert "bytes spooled, sending them with their length" in gw.log()
    assert picture.mode == "RGB" and picture.size == (591, 295)
