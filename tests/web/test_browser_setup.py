"""The browser tests fail, never skip, when the browser is missing, and say how to get it."""

import pytest

from tests.web import browser


def test_a_missing_chromium_fails_with_the_command_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match=r"chromium: `\./dev test` installs it"):
        browser.start_browser(tmp_path)
