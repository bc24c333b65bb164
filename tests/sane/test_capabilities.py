"""Capabilities read from the real SANE test backend's option descriptors, through python-sane."""

import pytest

from gateway.model import ColorMode, InputSource
from gateway.scanner.capabilities import read_capabilities
from gateway.scanner.inventory import sane_config_dir
from gateway.scanner.saneapi import SaneError, SaneLibrary, Status

pytestmark = pytest.mark.sane


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    state = tmp_path_factory.mktemp("sane")
    config = sane_config_dir(state, with_test_backend=True, backends=["test"])
    library = SaneLibrary(config)
    info = next(d for d in library.devices() if d.name == "test:0")
    dev = library.open(info)
    yield dev
    dev.close()


def test_the_test_backend_is_found_with_vendor_and_model(device):
    assert (device.info.vendor, device.info.model) == ("Noname", "frontend-tester")


def test_both_sources_are_probed(device):
    caps, profile = read_capabilities(device, "t", ("png",))
    assert caps.sources() == (InputSource.PLATEN, InputSource.ADF)
    assert profile.sources[InputSource.ADF].sane_source == "Automatic Document Feeder"


def test_gray_with_depth_1_is_black_and_white(device):
    _caps, profile = read_capabilities(device, "t", ("png",))
    assert profile.sources[InputSource.PLATEN].modes[ColorMode.BLACK_AND_WHITE_1] == ("Gray", 1)
    assert profile.sources[InputSource.PLATEN].modes[ColorMode.RGB_48] == ("Color", 16)


def test_the_resolution_range_becomes_a_discrete_list(device):
    caps, _profile = read_capabilities(device, "t", ("png",))
    assert caps.platen.resolutions_x == (75, 100, 150, 200, 240, 300, 400, 600, 1200)


def test_geometry_max_of_the_gateways_test_conf_fits_a4(device):
    caps, _profile = read_capabilities(device, "t", ("png",))
    assert caps.platen.max_size.height >= 11693  # 297 mm


def test_probing_leaves_the_source_as_it_was(device):
    before = device.get("source")
    read_capabilities(device, "t", ("png",))
    assert device.get("source") == before


def test_a_frame_streams_in_strips_of_the_callers_size(device):
    device.set("mode", "Gray")
    device.set("resolution", 75)
    device.set("br-x", 50.0)
    device.set("br-y", 50.0)
    device.start()
    params = device.parameters()
    buf = bytearray(params.bytes_per_line * 3)
    total, calls = 0, 0
    while n := device.read_into(buf):
        total += n
        calls += 1
    device.cancel()
    assert total == params.bytes_per_line * params.lines and calls > 10


def test_a_sane_error_in_read_carries_its_status(device):
    device.set("read-return-value", "SANE_STATUS_JAMMED")
    try:
        device.start()
        with pytest.raises(SaneError) as e:
            device.read_into(bytearray(4096))
        assert e.value.status is Status.JAMMED
    finally:
        device.cancel()
        device.set("read-return-value", "Default")
