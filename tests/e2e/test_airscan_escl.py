"""sane-airscan, an eSCL client nobody here wrote, scans through the gateway's eSCL front end with scanimage.

sane-airscan 0.99.27 chooses the document format itself (PNG when offered,
else JPEG; it offers no option for it), so the formats are checked by what
the gateway logged for the job.
"""

import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.support.airscan import SLOW_TEST_CONF, cancel_mid_scan, client_config, scanimage
from tests.support.escl_client import escl_root, get
from tests.support.gateway_process import ROOT, GatewayProcess

pytestmark = pytest.mark.e2e
DEVICE = "airscan:e0:Gateway"


@pytest.fixture(scope="module")
def client(gateway, tmp_path_factory):
    return client_config(tmp_path_factory.mktemp("airscan-escl"), escl_root(gateway) + "/", protocol="escl")


def scan(client, out, *args):
    result = scanimage(client, *args, "--format=png", "-o", str(out), device=DEVICE)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return Image.open(out)


def test_flatbed_colour_300_dpi(client, gateway, tmp_path):
    picture = scan(client, tmp_path / "colour.png", "--source", "Flatbed", "--mode", "Color", "--resolution", "300",
                   "-x", "100", "-y", "150")
    assert picture.mode == "RGB" and picture.size == (1181, 1772)
    assert "RGB24 300 dpi png" in gateway.log()


def test_flatbed_grey_at_a_resolution_other_than_300(client, gateway, tmp_path):
    picture = scan(client, tmp_path / "grey.png", "--source", "Flatbed", "--mode", "Gray", "--resolution", "150",
                   "-x", "100", "-y", "100")
    assert picture.mode == "L" and picture.size == (591, 591)
    assert "Grayscale8 150 dpi png" in gateway.log()


def test_feeder_delivers_every_sheet_then_ends_on_the_empty_feeder(client, tmp_path):
    result = scanimage(client, "--source", "ADF", "--mode", "Gray", "--resolution", "75", "-x", "100", "-y", "100",
                       "--format=png", f"--batch={tmp_path}/page%02d.png", cwd=tmp_path, device=DEVICE)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 10  # the test backend's feeder holds ten sheets
    assert all(Image.open(p).size == (295, 295) for p in pages)


def test_a_feeder_batch_can_follow_a_feeder_batch(client, tmp_path):
    """The feeder is never said to be empty once a batch has ended: a refilled tray scans again."""
    for batch in ("a", "b"):
        result = scanimage(client, "--source", "ADF", "--mode", "Gray", "--resolution", "75", "-x", "20", "-y",
                           "20", "--format=png", f"--batch={tmp_path}/{batch}%02d.png", cwd=tmp_path, device=DEVICE)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    assert len(list(tmp_path.glob("b*.png"))) == 10


def test_sane_airscan_over_escl_deletes_each_job_when_done(client, gateway, tmp_path):
    scan(client, tmp_path / "small.png", "--mode", "Gray", "--resolution", "75", "-x", "20", "-y", "20")
    deadline = time.monotonic() + 10
    while "Processing" in (get(f"{escl_root(gateway)}/ScannerStatus").text("//pwg:State") or ""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert get(f"{escl_root(gateway)}/ScannerStatus").text("//pwg:State") == "Idle"


def test_duplex_scans_both_sides_of_every_sheet(tmp_path):
    entry = [sys.executable, str(ROOT / "tests" / "support" / "duplex_gateway.py")]
    with GatewayProcess(tmp_path / "gw", entry=entry) as gw:
        client = client_config(tmp_path, escl_root(gw) + "/", protocol="escl")
        options = scanimage(client, "-A", device=DEVICE)
        assert b"ADF Duplex" in options.stdout, options.stdout.decode(errors="replace")
        result = scanimage(client, "--source", "ADF Duplex", "--mode", "Gray", "--resolution", "75", "-x", "20",
                           "-y", "20", "--format=png", f"--batch={tmp_path}/side%02d.png", cwd=tmp_path,
                           device=DEVICE)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    assert len(list(tmp_path.glob("side*.png"))) == 10  # the test feeder's ten frames: five sheets, two sides each
    assert "ADFDuplex Grayscale8 75 dpi" in gw.log()


def test_sane_airscan_finds_the_first_scanner_at_the_fixed_escl_path(gateway, tmp_path):
    client = client_config(tmp_path, f"http://{gateway.host}:{gateway.port}/eSCL/", protocol="escl")
    done = subprocess.run(["scanimage", "-d", DEVICE, "-A"], env={"SANE_CONFIG_DIR": str(client), "PATH": "/usr/bin:/bin"},
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and b"--source" in done.stdout, done.stderr.decode(errors="replace")


def test_flatbed_colour_600_dpi_over_the_whole_test_area(client, tmp_path):
    picture = scan(client, tmp_path / "big.png", "--source", "Flatbed", "--mode", "Color", "--resolution", "600",
                   "-x", "300", "-y", "300")
    # eSCL counts in 1/300 inch and the 300 mm area is 3543.3 of them: sane-airscan asks for the whole 3543,
    # which is exactly 7086 pixels at 600 dpi (WSD, in 1/1000 inch, reaches the 7087th partial pixel).
    assert picture.mode == "RGB" and picture.size == (7086, 7086)


def test_a_cancelled_escl_scan_ends_its_job_and_the_next_scan_works(tmp_path):
    with GatewayProcess(tmp_path / "gw", test_conf=SLOW_TEST_CONF) as gw:
        client = client_config(tmp_path, escl_root(gw) + "/", protocol="escl")
        cancel_mid_scan(client, gw.log, tmp_path / "cut.png", device=DEVICE)
        deadline = time.monotonic() + 20
        while "Canceled" not in (get(f"{escl_root(gw)}/ScannerStatus").text("//pwg:JobState") or ""):
            assert time.monotonic() < deadline, gw.log()[-3000:]
            time.sleep(0.2)
        picture = scan(client, tmp_path / "after.png", "--mode", "Gray", "--resolution", "75", "-x", "50", "-y", "50")
    assert picture.size == (148, 148)
