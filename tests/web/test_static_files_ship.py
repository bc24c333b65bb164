"""The page's style sheet and script are package data: the .deb has them, or the page loads bare."""

import configparser
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_static_file_of_the_page_is_declared_package_data():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["gateway.web"].replace(",", " ").split()]
    static = sorted(p.relative_to(ROOT / "gateway" / "web").as_posix()
                    for p in (ROOT / "gateway" / "web" / "static").iterdir())
    assert static and all(any(fnmatch.fnmatch(f, p) for p in patterns) for f in static), (static, patterns)
