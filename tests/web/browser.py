"""Headless Chromium driven by Selenium (Debian's chromium, chromium-driver, python3-selenium).

Missing pieces are a failure that says how to get them, never a skip: the
page is only tested if a real browser loads it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 20
"""Seconds for a page load or a script."""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
"""Screenshots land here (tests/artifacts/ is ignored by git)."""


def missing() -> str | None:
    if importlib.util.find_spec("selenium") is None:
        return "python3-selenium"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return package
    return None


def start_browser(downloads: Path, width: int = 1280, height: int = 900):
    package = missing()
    if package is not None:
        pytest.fail(f"the browser tests need {package}: `./dev test` installs it "
                    f"(or apt-get install chromium chromium-driver python3-selenium)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--metrics-recording-only",
                     f"--window-size={width},{height}", "--lang=en-GB"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "safebrowsing.enabled": False})
    service = Service(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def set_viewport(driver, width: int, height: int) -> None:
    """The page's layout width exactly (the window's size includes no browser chrome when headless)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def screenshot(driver, name: str, width: int) -> Path:
    """A full-height screenshot of the page at ``width`` CSS pixels, under tests/artifacts/web/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    path.write_bytes(driver.get_screenshot_as_png())
    return path
