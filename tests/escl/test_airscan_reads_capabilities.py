"""Debian's sane-airscan (0.99.27) reads our ScannerCapabilities: the options it offers are the scanner's.

A plain HTTP server hands sane-airscan the documents the builders make from
model values; the full eSCL service on the real scanner core is tested end to
end elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.escl.capabilities import scanner_capabilities
from gateway.escl.status import scanner_status
from gateway.escl.xml import serialize
from gateway.model import ColorMode, ScannerState, ScannerStatus
from tests.escl.samples import NOW, capabilities, scanner, source, with_caps

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("scanimage") is None, reason="needs sane-utils")]
TIMEOUT = 60


@contextmanager
def serving(documents: dict[str, bytes]):
    """An HTTP server on 127.0.0.1 answering GET of each path in ``documents``; yields its base URL."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/eSCL", requests
    finally:
        server.shutdown()
        server.server_close()


def options_of(tmp_path, s) -> str:
    """``scanimage -A`` of sane-airscan pointed at a server of ``s``'s capabilities."""
    docs = {"/eSCL/ScannerCapabilities": serialize(scanner_capabilities(s)),
            "/eSCL/ScannerStatus": serialize(scanner_status(ScannerStatus(time=NOW, state=ScannerState.IDLE)))}
    with serving(docs) as (url, _requests):
        (tmp_path / "dll.conf").write_text("airscan\n")
        (tmp_path / "airscan.conf").write_text(
            f'[devices]\n"Gateway" = {url}, escl\n[options]\ndiscovery = disable\nws-discovery = off\n')
        env = dict(os.environ, SANE_CONFIG_DIR=str(tmp_path))
        env.pop("SANE_DEBUG_AIRSCAN", None)
        done = subprocess.run(["scanimage", "-d", "airscan:e0:Gateway", "-A"], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def choices(options: str, name: str) -> list[str]:
    m = re.search(rf"--{name} (.+?) \[", options)
    assert m, options
    return m.group(1).split("|")


def test_sane_airscan_offers_the_platen_and_the_feeder(tmp_path):
    assert choices(options_of(tmp_path, scanner()), "source") == ["Flatbed", "ADF"]


def test_sane_airscan_offers_duplex_when_the_feeder_has_it(tmp_path):
    assert choices(options_of(tmp_path, scanner(capabilities(duplex=True))), "source") == [
        "Flatbed", "ADF", "ADF Duplex"]


def test_sane_airscan_offers_colour_and_grey(tmp_path):
    assert set(choices(options_of(tmp_path, scanner()), "mode")) == {"Color", "Gray"}


def test_sane_airscan_offers_the_discrete_resolutions(tmp_path):
    listed = choices(options_of(tmp_path, scanner()), "resolution")
    assert [int(r.rstrip("dpi")) for r in listed] == [75, 100, 150, 200, 300, 600, 1200]


def test_sane_airscan_offers_the_whole_scan_area(tmp_path):
    options = options_of(tmp_path, scanner())
    m = re.search(r"-x 0\.\.(\d+(?:\.\d+)?)mm", options)
    assert m, options
    assert abs(float(m.group(1)) - 209.97) < 0.2  # 2480/300 inch


def test_sane_airscan_accepts_a_grey_only_flatbed(tmp_path):
    grey = with_caps(scanner(), platen=source(colors=(ColorMode.GRAYSCALE_8,)), adf_front=None)
    options = options_of(tmp_path, grey)
    assert choices(options, "mode") == ["Gray"]
    assert choices(options, "source") == ["Flatbed"]
