"""The config keys that turn eSCL on and off, for the gateway and for one scanner."""

from pathlib import Path

import pytest

from gateway.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text):
    conf = tmp_path / "gw.conf"
    conf.write_text(text)
    return conf


def test_escl_is_on_by_default_and_in_the_shipped_file():
    s = load(ROOT / "etc" / "sane-wsd-gateway.conf")
    assert s.escl and s.escl_for("test:0")


def test_escl_no_in_gateway_turns_it_off_for_every_scanner(tmp_path):
    s = load(write(tmp_path, "[gateway]\nescl = no\n"))
    assert not s.escl and not s.escl_for("epson2:libusb:001:002")


def test_a_scanner_section_overrides_the_gateway_either_way(tmp_path):
    s = load(write(tmp_path, "[gateway]\nescl = no\n[scanner:epson2:*]\nescl = yes\n[scanner:test:*]\nname = T\n"))
    assert s.escl_for("epson2:libusb:001:002") and not s.escl_for("test:0")
    s = load(write(tmp_path, "[scanner:test:*]\nescl = off\n"))
    assert not s.escl_for("test:0") and s.escl_for("plustek:x")


def test_an_escl_value_that_is_not_yes_or_no_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not yes or no"):
        load(write(tmp_path, "[gateway]\nescl = maybe\n"))
