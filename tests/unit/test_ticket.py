"""Ticket negotiation: MustHonor, overrides and defaults, without a device."""

import pytest

from gateway.model import (
    Capabilities, ColorMode, DocumentParameters, InputSource, Requested, RequestedRegion, RequestedSide,
    ScanTicket, Size, SourceCapabilities, TicketRejected,
)
from gateway.scanner.capabilities import DeviceProfile, SourceProfile, Range
from gateway.scanner.saneapi import UNIT_MM
from gateway.scanner.ticket import negotiate, sane_settings

FLATBED = SourceCapabilities(
    colors=(ColorMode.GRAYSCALE_8, ColorMode.RGB_24), min_size=Size(100, 100), max_size=Size(8500, 11690),
    optical_resolution=Size(1200, 1200), resolutions_x=(100, 300, 600), resolutions_y=(100, 300, 600))
CAPS = Capabilities(name="s", info="", location="", formats=("png", "jfif"), platen=FLATBED,
                    adf_front=FLATBED, adf_back=None, brightness=True, contrast=False)


def params(**kw) -> ScanTicket:
    return ScanTicket(parameters=DocumentParameters(**kw))


def front(**kw) -> RequestedSide:
    return RequestedSide(**kw)


def test_an_empty_ticket_takes_every_default_and_says_so():
    final = negotiate(ScanTicket(), CAPS)
    assert final.input_source.value is InputSource.PLATEN and final.input_source.used_default
    assert final.front.color is ColorMode.RGB_24 and final.front.color_default
    assert final.front.resolution == Size(300, 300)
    assert final.format.value == "png"
    assert final.images_to_transfer.value == 1


def test_nearest_resolution_replaces_an_unsupported_one():
    final = negotiate(params(front=front(resolution=Requested(Size(250, 250)))), CAPS)
    assert final.front.resolution == Size(300, 300) and final.front.resolution_override


def test_must_honor_resolution_that_cannot_be_met_is_a_conflict():
    with pytest.raises(TicketRejected) as e:
        negotiate(params(front=front(resolution=Requested(Size(250, 250), must_honor=True))), CAPS)
    assert e.value.kind == "conflict"


def test_missing_colour_falls_back_to_the_nearest_one():
    final = negotiate(params(front=front(color=Requested("Grayscale16"))), CAPS)
    assert final.front.color is ColorMode.GRAYSCALE_8 and final.front.color_override


def test_unknown_format_is_rejected_even_without_must_honor():
    with pytest.raises(TicketRejected) as e:
        negotiate(params(format=Requested("xps")), CAPS)
    assert e.value.kind == "format"


def test_region_default_is_the_input_media_size():
    final = negotiate(params(input_size=Requested(Size(8500, 11000))), CAPS)
    assert (final.front.region.width, final.front.region.height) == (8500, 11000)


def test_region_running_past_the_platen_is_clipped_and_reported():
    region = RequestedRegion(Requested(8000), Requested(0), Requested(1000), Requested(1000))
    final = negotiate(params(front=front(region=region)), CAPS)
    assert final.front.region.width == 500 and final.front.region_override


def test_region_running_past_the_platen_with_must_honor_is_a_conflict():
    region = RequestedRegion(Requested(8000), Requested(0), Requested(1000, must_honor=True), Requested(1000))
    with pytest.raises(TicketRejected):
        negotiate(params(front=front(region=region)), CAPS)


def test_feeder_images_to_transfer_zero_means_until_empty():
    final = negotiate(params(input_source=Requested("ADF")), CAPS)
    assert final.images_to_transfer.value == 0


def test_duplex_is_refused_by_a_simplex_scanner_that_must_honor_it():
    with pytest.raises(TicketRejected):
        negotiate(params(input_source=Requested("ADFDuplex", must_honor=True)), CAPS)


def test_rotation_other_than_zero_is_overridden():
    final = negotiate(params(rotation=Requested(90)), CAPS)
    assert final.rotation.value == 0 and final.rotation.override


def test_unsupported_contrast_is_reported_as_overridden():
    final = negotiate(params(contrast=Requested(500)), CAPS)
    assert final.contrast.value == 0 and final.contrast.override


PROFILE = DeviceProfile(
    sources={InputSource.PLATEN: SourceProfile("Flatbed", FLATBED, {ColorMode.RGB_24: ("Color", 8),
                                                                     ColorMode.GRAYSCALE_8: ("Gray", 8)})},
    resolution_options=("resolution",), geometry_unit=UNIT_MM, brightness=Range(-100, 100, 1), contrast=None)


def test_sane_settings_convert_thousandths_of_an_inch_to_millimetres():
    region = RequestedRegion(Requested(1000), Requested(2000), Requested(1000), Requested(1000))
    final = negotiate(params(front=front(region=region)), CAPS)
    settings = dict(sane_settings(final, final.front, PROFILE))
    assert settings["tl-x"] == pytest.approx(25.4) and settings["br-y"] == pytest.approx(76.2)
    assert settings["source"] == "Flatbed" and settings["mode"] == "Color" and settings["depth"] == 8


def test_brightness_maps_the_full_wsd_range_onto_the_device_range():
    final = negotiate(params(brightness=Requested(-1000)), CAPS)
    assert dict(sane_settings(final, final.front, PROFILE))["brightness"] == -100
    final = negotiate(params(brightness=Requested(500)), CAPS)
    assert dict(sane_settings(final, final.front, PROFILE))["brightness"] == 50
