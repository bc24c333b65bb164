"""The status page in a real browser: headless Chromium loads it from the real gateway, reads the
diagnostics, follows a change without a reload, runs a test scan and downloads the image.

Screenshots at desktop and phone width are written to tests/artifacts/web/.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.soap_client import envelope, post
from tests.web.browser import PAGE_TIMEOUT, screenshot, set_viewport, start_browser
from tests.web.conftest import HOSTILE_NAME, send_probe

SCAN_TIMEOUT = 60
PAGE_AREA_MM = 300.0
"""The test backend's scan area (geometry_max in tests/support/gateway_process.py), each way."""
GET_ACTION = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    driver = start_browser(downloads)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser, page_gateway):
    browser.get(f"http://127.0.0.1:{page_gateway.port}/")
    return browser


def wait(driver, condition, what: str, timeout: float = PAGE_TIMEOUT):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d), message=what)


def text_of(driver, css: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.CSS_SELECTOR, css).text


def row_value(driver, scanner_uuid: str, name: str) -> str:
    """The value a scanner's facts table gives for ``name``."""
    return driver.execute_script("""
        const [uuid, name] = arguments;
        const article = document.querySelector(`article[data-uuid="${uuid}"]`);
        for (const row of article.querySelectorAll("table.facts tr")) {
            if (row.querySelector("th").textContent === name) return row.querySelector("td").textContent;
        }
        return null;""", scanner_uuid, name)


def test_the_page_shows_each_interface_its_addresses_and_the_discovery_state(page):
    network = text_of(page, "section[aria-labelledby=network-heading]")
    assert "lo" in network and "127.0.0.1" in network
    assert "Discovery\non" in network or "Discovery on" in network


def test_the_checklist_says_no_pc_has_looked_for_scanners_yet(page):
    assert "No PC has looked for scanners on lo yet" in text_of(page, "#checklist")


def test_a_hostile_scanner_name_is_shown_as_text_and_runs_nothing(page, page_gateway):
    hostile = page_gateway.uuids["test:1"]
    assert text_of(page, f'article[data-uuid="{hostile}"] h3') == HOSTILE_NAME
    assert page.execute_script("return window.pwned === undefined")


def test_the_escl_section_shows_the_mdns_announcer_and_its_state(page):
    section = text_of(page, "section[aria-labelledby=escl-heading]")
    assert "eSCL (mDNS)" in section and any(s in section for s in ("starting", "announcing", "unavailable"))


def test_a_probe_and_a_metadata_read_appear_without_a_reload(page, page_gateway):
    page.execute_script("window.notReloaded = true")
    uuid = page_gateway.uuids["test:0"]
    assert row_value(page, uuid, "Last description read").startswith("never")
    send_probe()
    wait(page, lambda d: "from 127.0.0.1" in text_of(d, "section[aria-labelledby=network-heading]"),
         "the probe did not show up on the page")
    assert post(page_gateway.url, envelope(GET_ACTION, None, to=f"urn:uuid:{uuid}")).status == 200
    wait(page, lambda d: "from 127.0.0.1" in row_value(d, uuid, "Last description read"),
         "the metadata read did not show up on the page")
    assert page.execute_script("return window.notReloaded === true"), "the page was reloaded"
    assert "No PC has looked for scanners on lo" not in text_of(page, "#checklist")


def choose(driver, name: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, f"scan-{name}")).select_by_value(value)


def test_a_test_scan_shows_a_preview_and_downloads_the_image(page, page_gateway, downloads):
    from selenium.webdriver.common.by import By
    choose(page, "scanner", page_gateway.uuids["test:0"])
    choose(page, "source", "Platen")
    choose(page, "mode", "Grayscale8")
    choose(page, "resolution", "75")
    choose(page, "format", "png")
    page.find_element(By.ID, "scan-button").click()
    wait(page, lambda d: text_of(d, "#scan-status").startswith(("Scanned", "The test scan did not work")),
         "the test scan did not finish", SCAN_TIMEOUT)
    assert text_of(page, "#scan-status").startswith("Scanned"), text_of(page, "#scan-status")
    expected = round(PAGE_AREA_MM / 25.4 * 75)
    wait(page, lambda d: d.execute_script(
        "const i = document.getElementById('scan-preview'); return i.complete && i.naturalWidth > 0"),
        "the preview did not load")
    assert page.execute_script("return document.getElementById('scan-preview').naturalWidth") in (expected,
                                                                                                   expected - 1)
    page.find_element(By.ID, "scan-download").click()
    done = wait(page, lambda d: [p for p in downloads.glob("test-scan-*.png")], "the download did not arrive")
    image = Image.open(io.BytesIO(done[0].read_bytes()))
    assert image.mode == "L" and image.size[0] in (expected, expected - 1) and image.size[0] == image.size[1]
    darkest, lightest = image.getextrema()
    assert lightest - darkest > 100, "the test backend's grid should have come through"


def test_the_page_fits_a_phone_and_screenshots_are_written(page):
    set_viewport(page, 1280, 900)
    desktop = screenshot(page, "status-desktop-1280", 1280)
    set_viewport(page, 390, 844)
    time.sleep(0.3)
    overflow = page.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    phone = screenshot(page, "status-phone-390", 390)
    assert overflow <= 0, f"the page is {overflow} px wider than a 390 px phone"
    for path, width in ((desktop, 1280), (phone, 390)):
        assert Image.open(path).size[0] == width


ACCESSIBILITY_PROBLEMS = """
const problems = [];
for (const control of document.querySelectorAll("select, input, button")) {
    if (control.tagName !== "BUTTON" && control.labels.length === 0) problems.push("unlabelled " + control.id);
    if (control.tagName === "BUTTON" && !control.textContent.trim()) problems.push("button without text");
}
for (const img of document.querySelectorAll("img")) if (!img.alt) problems.push("image without alt");
let level = 0;
for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const n = Number(h.tagName[1]);
    if (n > level + 1) problems.push("heading " + h.tagName + " after h" + level + ": " + h.textContent);
    level = n;
}
if (!document.documentElement.lang) problems.push("no lang");
function rgb(text) { return text.match(/[\\d.]+/g).map(Number); }
function luminance([r, g, b]) {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function background(el) {
    for (; el; el = el.parentElement) {
        const c = rgb(getComputedStyle(el).backgroundColor);
        if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
}
for (const el of document.querySelectorAll("h1, h2, h3, h4, p, li, th, td, label, caption, a, button, select")) {
    if (!el.textContent.trim() || el.offsetParent === null) continue;
    const [l1, l2] = [luminance(rgb(getComputedStyle(el).color).slice(0, 3)), luminance(background(el))];
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + " of " + el.tagName + ": " + el.textContent.slice(0, 40));
}
return problems;
"""


def test_every_control_is_labelled_headings_nest_and_text_has_enough_contrast(page):
    assert page.execute_script(ACCESSIBILITY_PROBLEMS) == []
