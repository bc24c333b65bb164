"""The config file, flags over it, and the command line a person reads."""

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, DEFAULT_PORT, load, with_flags
from gateway.scanner.inventory import UuidStore, choose
from gateway.scanner.saneapi import DeviceInfo

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_config_file_loads_with_the_documented_defaults():
    s = load(ROOT / "etc" / "sane-wsd-gateway.conf")
    assert s.port == DEFAULT_PORT != 5357
    assert s.test_device == "auto" and s.discovery and s.interfaces == ()


def test_flags_override_the_file(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nport = 9000\nlog_level = warn\n")
    s = with_flags(load(conf), port=9100, log_level=None)
    assert (s.port, s.log_level) == (9100, "warn")


def test_port_5357_is_refused(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nport = 5357\n")
    with pytest.raises(ConfigError):
        load(conf)


def test_images_are_streamed_chunked_unless_the_config_says_length(tmp_path):
    assert load(ROOT / "etc" / "sane-wsd-gateway.conf").image_transfer == "chunked"
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nimage_transfer = Length\n")
    assert load(conf).image_transfer == "length"


def test_an_unknown_image_transfer_says_which_values_there_are(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nimage_transfer = whole\n")
    with pytest.raises(ConfigError, match="chunked .*or length"):
        load(conf)


def test_per_scanner_sections_match_by_sane_name_pattern(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[scanner:epson2:*]\nname = Office\nlocation = Hall\n")
    s = load(conf)
    assert s.friendly("epson2:libusb:001:004", "Epson", "GT") == "Office"
    assert s.override_for("epson2:libusb:001:004").location == "Hall"
    assert s.override_for("test:0") is None


def test_uuids_survive_a_restart(tmp_path):
    first = UuidStore(tmp_path).uuid_for("usb:04b8:0130:X")
    assert UuidStore(tmp_path).uuid_for("usb:04b8:0130:X") == first


def test_the_test_device_is_served_only_when_no_real_scanner_is_found(tmp_path):
    store = UuidStore(tmp_path)
    test0 = DeviceInfo("test:0", "Noname", "frontend-tester", "virtual device")
    real = DeviceInfo("epson2:libusb:001:004", "Epson", "GT", "flatbed scanner")
    assert [d.info for d in choose([test0], store, "auto")] == [test0]
    assert [d.info for d in choose([test0, real], store, "auto")] == [real]
    assert [d.info for d in choose([test0, real], store, "no")] == [real]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_help_explains_commands_ports_and_config():
    out = run_cli("--help").stdout
    assert "run" in out and "list" in out and "3702" in out and "/etc/sane-wsd-gateway.conf" in out


def test_run_help_lists_every_flag():
    out = run_cli("run", "--help").stdout
    for flag in ("--config", "--port", "--interface", "--state-dir", "--log-level"):
        assert flag in out


def test_list_shows_the_test_device_with_url_uuid_and_capabilities(tmp_path):
    r = run_cli("list", "--config", str(ROOT / "etc" / "sane-wsd-gateway.conf"), "--state-dir", str(tmp_path),
                "--backend", "test", "--test-device", "yes")
    assert r.returncode == 0, r.stderr
    assert "test:0" in r.stdout and "UUID:" in r.stdout and "Platen:" in r.stdout and "RGB24" in r.stdout


def test_list_leaves_no_push_token_behind(tmp_path):
    r = run_cli("list", "--config", str(ROOT / "etc" / "sane-wsd-gateway.conf"), "--state-dir", str(tmp_path),
                "--backend", "test", "--test-device", "yes")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "push.token").exists()


def test_a_bad_config_is_a_clear_error_not_a_traceback(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nport = eighty\n")
    r = run_cli("run", "--config", str(conf))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "eighty" in r.stderr


def test_metadata_version_rises_only_when_the_metadata_changes(tmp_path):
    from gateway.wsd.metadata import MetadataVersions
    assert MetadataVersions(tmp_path).version("u", "a") == 1
    assert MetadataVersions(tmp_path).version("u", "a") == 1
    assert MetadataVersions(tmp_path).version("u", "b") == 2


def test_allowed_networks_must_be_networks(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nallowed_networks = 10.1.0.0/16 fd00::/8\n")
    assert load(conf).allowed_networks == ("10.1.0.0/16", "fd00::/8")
    conf.write_text("[gateway]\nallowed_networks = office\n")
    with pytest.raises(ConfigError):
        load(conf)


def test_a_usb_scanner_is_known_by_vendor_product_and_serial_not_by_its_port(tmp_path):
    from gateway.scanner.inventory import usb_identity
    dev = tmp_path / "1-1.3"
    dev.mkdir()
    for name, value in (("busnum", "1"), ("devnum", "4"), ("idVendor", "04b8"), ("idProduct", "0130"),
                        ("serial", "L123456")):
        (dev / name).write_text(value + "\n")
    assert usb_identity("epson2:libusb:001:004", sysfs=tmp_path) == "usb:04b8:0130:L123456"
    assert usb_identity("epson2:libusb:002:009", sysfs=tmp_path) is None
    assert usb_identity("test:0", sysfs=tmp_path) is None


def test_a_friendly_name_with_an_unknown_field_is_a_config_error(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nfriendly_name = {brand} scanner\n")
    with pytest.raises(ConfigError) as e:
        load(conf)
    assert "brand" in str(e.value)


def config_error(tmp_path, text: str) -> str:
    conf = tmp_path / "c.conf"
    conf.write_text(text)
    with pytest.raises(ConfigError) as e:
        load(conf)
    return str(e.value)


def test_an_unknown_key_is_reported_with_file_line_and_the_key_it_resembles(tmp_path):
    message = config_error(tmp_path, "[gateway]\n# the port\nprot = 1\n")
    assert message == f"{tmp_path / 'c.conf'}:3: unknown key 'prot' in [gateway] (did you mean port?)"


def test_an_unknown_section_is_reported_with_its_line_and_the_section_it_resembles(tmp_path):
    message = config_error(tmp_path, "[gateway]\nport = 9000\n\n[gatway]\nlocation = Hall\n")
    assert message.startswith(f"{tmp_path / 'c.conf'}:4: unknown section [gatway] (did you mean [gateway]?)")


def test_a_misspelt_scanner_section_is_reported_as_the_scanner_section_it_resembles(tmp_path):
    assert "did you mean [scanner:epson2:*]?" in config_error(tmp_path, "[scaner:epson2:*]\nname = Office\n")


def test_an_unknown_key_in_a_scanner_section_is_reported(tmp_path):
    message = config_error(tmp_path, "[scanner:epson2:*]\nname = Office\nlocaton = Hall\n")
    assert ":3: unknown key 'locaton' in [scanner:epson2:*] (did you mean location?)" in message


def test_a_value_that_is_no_number_names_the_key_the_value_and_the_line(tmp_path):
    message = config_error(tmp_path, "[gateway]\nport = eighty\n")
    assert message == f"{tmp_path / 'c.conf'}:2: port = eighty: not a whole number"


def test_a_negative_poll_interval_is_refused_with_the_allowed_range(tmp_path):
    message = config_error(tmp_path, "[gateway]\nbutton_poll_interval = -3\n")
    assert message.endswith(":2: button_poll_interval = -3: must be 0 (no polling) or from 0.1 to 3600 seconds")


def test_a_zero_device_timeout_is_refused_with_the_allowed_range(tmp_path):
    assert "device_timeout = 0: must be from 1 to 3600 seconds" in config_error(tmp_path,
                                                                                 "[gateway]\ndevice_timeout = 0\n")


def test_a_poll_interval_of_zero_still_turns_polling_off(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[gateway]\nbutton_poll_interval = 0\n")
    assert load(conf).button_poll_interval == 0


def test_a_key_before_any_section_says_where_the_section_goes(tmp_path):
    assert config_error(tmp_path, "port = 9000\n").endswith(":1: 'port = 9000' comes before any section: "
                                                            "put [gateway] above it")


def test_a_key_set_twice_names_its_second_line(tmp_path):
    assert config_error(tmp_path, "[gateway]\nport = 9000\nport = 9001\n").endswith(":3: port is set twice in "
                                                                                    "[gateway]")


def test_a_yes_no_key_names_its_value(tmp_path):
    assert config_error(tmp_path, "[scanner:test:*]\nenabled = maybe\n").endswith(":2: enabled = maybe: "
                                                                                   "not yes or no")


def test_a_flag_out_of_range_is_refused_naming_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="^--port 0: must be a TCP port from 1 to 65535"):
        with_flags(load(None), port=0)


def test_every_gateway_key_is_a_setting_and_every_setting_but_the_scanners_a_key():
    from dataclasses import fields

    from gateway.config import GATEWAY_KEYS, Settings
    assert set(GATEWAY_KEYS) == {f.name for f in fields(Settings)} - {"scanners"}


def test_every_key_of_the_shipped_config_file_is_known():
    from gateway.config import GATEWAY_KEYS
    text = (ROOT / "etc" / "sane-wsd-gateway.conf").read_text()
    shipped = {line.split("=")[0].strip() for line in text.splitlines()
               if "=" in line and not line.startswith(("#", " ", "["))}
    assert shipped == set(GATEWAY_KEYS)


def test_help_lists_every_exit_status_and_the_two_common_commands():
    from gateway.exits import ExitStatus
    out = run_cli("--help").stdout
    for status in ExitStatus:
        assert f"  {status.value}  {status.meaning}" in out
    assert "sane-wsd-gateway list " in out and "sane-wsd-gateway run --log-level debug" in out


def test_readme_and_man_page_document_every_exit_status_and_no_other():
    import re

    from gateway.exits import ExitStatus
    man = (ROOT / "packaging" / "sane-wsd-gateway.8.rst").read_text().split("EXIT STATUS\n", 1)[1].split("\nFILES\n")[0]
    readme = (ROOT / "README.rst").read_text().split("Exit statuses", 1)[1].split("\n\n", 2)[1]
    assert {int(n) for n in re.findall(r"^\*\*(\d+)\*\*$", man, re.M)} == {s.value for s in ExitStatus}
    assert {int(n) for n in re.findall(r"^``(\d+)``", readme, re.M)} == {s.value for s in ExitStatus}


def test_the_unit_waits_for_ready_and_does_not_restart_after_a_config_mistake():
    from gateway.exits import ExitStatus
    unit = (ROOT / "etc" / "sane-wsd-gateway.service").read_text().splitlines()
    assert "Type=notify" in unit and f"RestartPreventExitStatus={ExitStatus.USAGE.value}" in unit
