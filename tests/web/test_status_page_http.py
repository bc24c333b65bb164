"""The status page over plain HTTP: its JSON, its escaping, the test scan's answers, and who may use it."""

from __future__ import annotations

import http.client
import io
import json
import time

import netifaces
import pytest
from PIL import Image

from tests.support.soap_client import call, create_job, el, job_of, ticket
from tests.web.conftest import HOSTILE_NAME


def request(gw, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
            source: str | None = None, host: str = "127.0.0.1"):
    conn = http.client.HTTPConnection(host, gw.port, timeout=60, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
        r = conn.getresponse()
        return r.status, r.getheader("content-type") or "", r.read()
    finally:
        conn.close()


def run_test_scan(gw, **wanted):
    chosen = {"scanner": gw.uuids["test:0"], "source": "Platen", "mode": "RGB24", "resolution": 75,
              "format": "png", **wanted}
    status, _type, body = request(gw, "POST", "/test-scan", json.dumps(chosen).encode(), "application/json")
    return status, json.loads(body)




def status_json(gw) -> dict:
    return json.loads(gw.get("/status.json"))


def test_the_json_names_each_interface_the_discovery_state_and_each_scanner(page_gateway):
    state = status_json(page_gateway)
    assert state["discovery"] is True
    assert [(i["name"], i["addresses"]) for i in state["interfaces"]] == [("lo", ["127.0.0.1"])]
    assert {s["uuid"] for s in state["scanners"]} == set(page_gateway.uuids.values())
    # eSCL is on by default: its announcer is listed (its state is this machine's avahi-daemon's business).
    assert [a["protocol"] for a in state["announcers"]] == ["eSCL (mDNS)"]


def test_a_hostile_scanner_name_is_escaped_on_the_page_and_in_its_live_part(page_gateway):
    for path in ("/", "/live"):
        html = page_gateway.get(path).decode()
        assert "<script>window.pwned" not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.pwned=2&lt;/script&gt;" in html


def test_the_json_gives_a_hostile_name_as_it_is(page_gateway):
    assert HOSTILE_NAME in [s["name"] for s in status_json(page_gateway)["scanners"]]


def test_the_page_says_its_language_and_sets_a_viewport_for_phones(page_gateway):
    html = page_gateway.get("/").decode()
    assert '<html lang="en">' in html and 'name="viewport"' in html


def test_a_test_scan_answers_with_the_image_size_and_the_image_decodes(page_gateway):
    status, answer = run_test_scan(page_gateway, mode="Grayscale8", resolution=75)
    assert status == 200, answer
    image = Image.open(io.BytesIO(page_gateway.get(answer["image"])))
    assert image.mode == "L" and image.size == (answer["width"], answer["height"])


def test_a_test_scan_while_a_pc_scans_is_refused_as_busy(page_gateway):
    gw = page_gateway
    url = f"http://127.0.0.1:{gw.port}/{gw.uuids['test:0']}/scan"
    job_id, _token = job_of(create_job(url, ticket(dpi=75)))
    try:
        status, answer = run_test_scan(gw)
    finally:
        assert call(url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id))).status == 200
    assert status == 409 and "busy" in answer["error"]


def test_the_json_never_shows_a_job_token(page_gateway):
    assert run_test_scan(page_gateway)[0] == 200
    text = page_gateway.get("/status.json").decode()
    assert "token" not in text.lower() and "Test scan" in text


@pytest.mark.parametrize("change, why", [({"resolution": 77}, "resolution"), ({"mode": "CMYK"}, "colour mode"),
                                        ({"source": "Film"}, "source"), ({"scanner": "nope"}, "no such scanner"),
                                        ({"format": "exe"}, "format")])
def test_a_test_scan_the_form_could_not_have_sent_is_a_clear_400(page_gateway, change, why):
    status, answer = run_test_scan(page_gateway, **change)
    assert status == 400 and why in answer["error"]


def test_a_test_scan_posted_as_a_form_from_another_site_is_refused(page_gateway):
    status, _type, _body = request(page_gateway, "POST", "/test-scan", b"scanner=x",
                                   "application/x-www-form-urlencoded")
    assert status == 415


def test_the_browsers_icon_is_the_scanner_icon_as_png(page_gateway):
    status, ctype, body = request(page_gateway, "GET", "/favicon.ico")
    assert status == 200 and ctype == "image/png"
    picture = Image.open(io.BytesIO(body))
    assert picture.format == "PNG" and picture.size == (128, 128)


def test_the_static_directory_is_not_listed_and_its_files_are_served(page_gateway):
    assert request(page_gateway, "GET", "/static/")[0] == 404
    status, ctype, _body = request(page_gateway, "GET", "/static/status.js")
    assert status == 200 and "javascript" in ctype


def an_address_of_this_machine_off_loopback() -> str | None:
    for name in netifaces.interfaces():
        for entry in netifaces.ifaddresses(name).get(netifaces.AF_INET, ()):
            if not entry["addr"].startswith("127."):
                return entry["addr"]
    return None


def test_a_refused_client_shows_in_the_json_with_what_to_set(page_gateway):
    """The gateway serves loopback only; this machine's other address is another network."""
    address = an_address_of_this_machine_off_loopback()
    if address is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    status, _type, _body = request(page_gateway, "GET", "/", source=address, host=address)
    assert status == 403
    [refused] = [r for r in status_json(page_gateway)["refused"] if r["peer"] == address]
    assert "allowed_networks" in refused["reason"] and refused["count"] >= 1
    assert any(address in line and "allowed_networks" in line for line in status_json(page_gateway)["checklist"])


def test_the_pages_own_polling_and_static_files_stay_out_of_the_access_log(page_gateway):
    for path in ("/live", "/static/page.css", "/"):
        page_gateway.get(path)
    deadline = time.monotonic() + 5
    while '"GET / HTTP/1.1" 200' not in page_gateway.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the access log line is written as the answer goes out
    log = page_gateway.log()
    assert '"GET / HTTP/1.1" 200' in log
    assert "GET /live" not in log and "GET /static/page.css" not in log
