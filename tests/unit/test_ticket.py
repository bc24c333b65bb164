"""Ticket negotiation: MustHonor, overrides and defaults, and exact geometry, without a device."""

from dataclasses import replace

import pytest

from gateway.model import (
    Capabilities, ColorMode, DocumentParameters, ErrorKind, InputSource, PixelWindow, Requested, RequestedRegion,
    RequestedSide, ScanTicket, Size, SourceCapabilities, TicketRejected,
)
from gateway.frames_to_files import format_table
from gateway.scanner.capabilities import DeviceProfile, SourceProfile, Range
from gateway.scanner.saneapi import UNIT_MM, UNIT_PIXEL
from gateway.scanner.ticket import enclosing_area, image_window, negotiate, pixels, place, sane_settings, thou_for

FORMATS = format_table()
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
    final = negotiate(ScanTicket(), CAPS, FORMATS)
    assert final.input_source.value is InputSource.PLATEN and final.input_source.used_default
    assert final.front.color is ColorMode.RGB_24 and final.front.color_default
    assert final.front.resolution == Size(300, 300)
    assert final.format.value == "png"
    assert final.images_to_transfer.value == 1


def test_nearest_resolution_replaces_an_unsupported_one():
    final = negotiate(params(front=front(resolution=Requested(Size(250, 250)))), CAPS, FORMATS)
    assert final.front.resolution == Size(300, 300) and final.front.resolution_override


def test_must_honor_resolution_that_cannot_be_met_is_a_conflict():
    with pytest.raises(TicketRejected) as e:
        negotiate(params(front=front(resolution=Requested(Size(250, 250), must_honor=True))), CAPS, FORMATS)
    assert e.value.kind is ErrorKind.CONFLICT


def test_missing_colour_falls_back_to_the_nearest_one():
    final = negotiate(params(front=front(color=Requested("Grayscale16"))), CAPS, FORMATS)
    assert final.front.color is ColorMode.GRAYSCALE_8 and final.front.color_override


def test_unknown_format_is_rejected_even_without_must_honor():
    with pytest.raises(TicketRejected) as e:
        negotiate(params(format=Requested("xps")), CAPS, FORMATS)
    assert e.value.kind is ErrorKind.FORMAT


def test_region_default_is_the_input_media_size():
    final = negotiate(params(input_size=Requested(Size(8500, 11000))), CAPS, FORMATS)
    assert (final.front.region.width, final.front.region.height) == (8500, 11000)


def test_region_running_past_the_platen_is_clipped_and_reported():
    region = RequestedRegion(Requested(8000), Requested(0), Requested(1000), Requested(1000))
    final = negotiate(params(front=front(region=region)), CAPS, FORMATS)
    assert final.front.region.width == 500 and final.front.region_override


def test_region_running_past_the_platen_with_must_honor_is_a_conflict():
    region = RequestedRegion(Requested(8000), Requested(0), Requested(1000, must_honor=True), Requested(1000))
    with pytest.raises(TicketRejected):
        negotiate(params(front=front(region=region)), CAPS, FORMATS)


def test_feeder_images_to_transfer_zero_means_until_empty():
    final = negotiate(params(input_source=Requested("ADF")), CAPS, FORMATS)
    assert final.images_to_transfer.value == 0


def test_duplex_is_refused_by_a_simplex_scanner_that_must_honor_it():
    with pytest.raises(TicketRejected):
        negotiate(params(input_source=Requested("ADFDuplex", must_honor=True)), CAPS, FORMATS)


def test_rotation_other_than_zero_is_overridden():
    final = negotiate(params(rotation=Requested(90)), CAPS, FORMATS)
    assert final.rotation.value == 0 and final.rotation.override


def test_unsupported_contrast_is_reported_as_overridden():
    final = negotiate(params(contrast=Requested(500)), CAPS, FORMATS)
    assert final.contrast.value == 0 and final.contrast.override


PROFILE = DeviceProfile(
    sources={InputSource.PLATEN: SourceProfile("Flatbed", FLATBED, {ColorMode.RGB_24: ("Color", 8),
                                                                     ColorMode.GRAYSCALE_8: ("Gray", 8)})},
    resolution_options=("resolution",), geometry_unit=UNIT_MM, brightness=Range(-100, 100, 1), contrast=None)


def test_sane_settings_convert_thousandths_of_an_inch_to_millimetres():
    region = RequestedRegion(Requested(1000), Requested(2000), Requested(1000), Requested(1000))
    final = negotiate(params(front=front(region=region)), CAPS, FORMATS)
    settings = dict(sane_settings(final, final.front, PROFILE))
    assert settings["tl-x"] == pytest.approx(25.4) and settings["br-y"] == pytest.approx(76.2)
    assert settings["source"] == "Flatbed" and settings["mode"] == "Color" and settings["depth"] == 8


def test_brightness_maps_the_full_wsd_range_onto_the_device_range():
    final = negotiate(params(brightness=Requested(-1000)), CAPS, FORMATS)
    assert dict(sane_settings(final, final.front, PROFILE))["brightness"] == -100
    final = negotiate(params(brightness=Requested(500)), CAPS, FORMATS)
    assert dict(sane_settings(final, final.front, PROFILE))["brightness"] == 50


# ---------------------------------------------------------------- exact geometry

MM_STEPS = {name: Range(0.0, 300.0, 1.0) for name in ("tl-x", "tl-y", "br-x", "br-y")}
ISSUE_WINDOW = PixelWindow(75, 75, 188, 113)  # 1.25 x 0.75 in at 0.5 in, 150 dpi


def test_thousandths_become_pixels_rounded_half_up():
    assert (pixels(1250, 150), pixels(750, 150)) == (188, 113)  # 187.5 and 112.5
    assert pixels(11811, 75) == 886 and pixels(1, 75) == 0


@pytest.mark.parametrize("dpi", [75, 150, 300, 600, 1200, 2400])
def test_a_pixel_count_has_a_length_that_gives_it_back_or_fewer(dpi):
    for px in (3, 885, 7086, 14173):  # at 2400 dpi one thousandth is already 2 pixels
        t = thou_for(px, dpi)
        assert t >= 1 and pixels(t, dpi) <= px
        if dpi <= 1000:
            assert pixels(t, dpi) == px


def test_the_image_window_is_the_region_in_pixels():
    region = RequestedRegion(Requested(500), Requested(500), Requested(1250), Requested(750))
    final = negotiate(params(front=front(region=region, resolution=Requested(Size(150, 150)))),
                      replace_resolutions(CAPS, (150,)), FORMATS)
    assert image_window(final.front) == ISSUE_WINDOW


def replace_resolutions(caps, dpis):
    src = replace(caps.platen, resolutions_x=dpis, resolutions_y=dpis)
    return replace(caps, platen=src, adf_front=src)


def test_the_scan_area_is_the_smallest_on_the_device_steps_that_holds_the_window():
    area = enclosing_area(ISSUE_WINDOW, Size(150, 150), UNIT_MM, MM_STEPS)
    assert area == {"tl-x": 12.0, "tl-y": 12.0, "br-x": 45.0, "br-y": 32.0}


def test_without_steps_the_scan_area_is_the_window_itself():
    area = enclosing_area(ISSUE_WINDOW, Size(150, 150), UNIT_MM, None)
    assert area["tl-x"] == pytest.approx(12.7) and area["br-x"] == pytest.approx(263 * 25.4 / 150)


def test_the_scan_area_stays_within_the_device_range_and_can_be_widened_a_step_at_a_time():
    narrow = {name: Range(0.0, 40.0, 1.0) for name in MM_STEPS}
    assert enclosing_area(ISSUE_WINDOW, Size(150, 150), UNIT_MM, narrow)["br-x"] == 40.0
    wider = enclosing_area(ISSUE_WINDOW, Size(150, 150), UNIT_MM, MM_STEPS, outwards=(1, 0, 2, 0))
    assert (wider["tl-x"], wider["tl-y"], wider["br-x"], wider["br-y"]) == (11.0, 12.0, 47.0, 32.0)


def test_a_backend_counting_in_pixels_gets_the_window_in_pixels():
    area = enclosing_area(ISSUE_WINDOW, Size(150, 150), UNIT_PIXEL, None)
    assert area == {"tl-x": 75, "tl-y": 75, "br-x": 263, "br-y": 188}


def test_the_window_is_placed_in_the_frame_the_device_reports():
    values = {"tl-x": 12.0, "tl-y": 12.0, "br-x": 45.0, "br-y": 32.0}
    placement = place(ISSUE_WINDOW, Size(150, 150), UNIT_MM, values, pixels_per_line=194, lines=118)
    assert placement.crop == PixelWindow(4, 4, 188, 113) and placement.short == (0, 0, 0, 0)


def test_a_frame_that_misses_pixels_says_which_edges_to_widen():
    values = {"tl-x": 13.0, "tl-y": 12.0, "br-x": 45.0, "br-y": 32.0}  # a backend that rounded tl-x up
    placement = place(ISSUE_WINDOW, Size(150, 150), UNIT_MM, values, pixels_per_line=188, lines=110)
    assert placement.short == (1, 0, 0, 1)
    assert placement.crop == PixelWindow(0, 4, 186, 106) and placement.shift == (-2, 4)


def test_a_frame_of_unknown_height_is_never_short_at_the_bottom():
    values = {"tl-x": 12.0, "tl-y": 12.0, "br-x": 45.0, "br-y": 32.0}
    placement = place(ISSUE_WINDOW, Size(150, 150), UNIT_MM, values, pixels_per_line=194, lines=-1)
    assert placement.short == (0, 0, 0, 0) and placement.crop.height == 113


def test_a_device_without_a_scan_area_to_set_gives_its_whole_frame():
    assert place(ISSUE_WINDOW, Size(150, 150), UNIT_MM, {}, 324, -1).crop is None


def narrow_platen(width: int) -> Capabilities:
    src = replace(FLATBED, max_size=Size(width, 11690))
    return replace(CAPS, platen=src, adf_front=src)


def test_a_region_reaching_into_the_last_partial_pixel_of_the_platen_is_cut_to_whole_pixels():
    # A platen of 8503 thousandths holds 2550 whole pixels at 300 dpi (2550.9).
    fits = RequestedRegion(Requested(8000), Requested(0), Requested(500), Requested(1000))
    final = negotiate(params(front=front(region=fits)), narrow_platen(8503), FORMATS)
    assert image_window(final.front).width == 150 and not final.front.region_override
    beyond = RequestedRegion(Requested(8000), Requested(0), Requested(503), Requested(1000))  # 151 pixels
    final = negotiate(params(front=front(region=beyond)), narrow_platen(8503), FORMATS)
    assert image_window(final.front).width == 150 and final.front.region_override
    assert final.front.region.width == 500


def test_a_must_honor_region_into_the_last_partial_pixel_is_a_conflict():
    beyond = RequestedRegion(Requested(8000), Requested(0), Requested(503, must_honor=True), Requested(1000))
    with pytest.raises(TicketRejected) as e:
        negotiate(params(front=front(region=beyond)), narrow_platen(8503), FORMATS)
    assert e.value.kind is ErrorKind.CONFLICT


def test_a_platen_of_216_mm_gives_its_whole_advertised_width_at_300_dpi():
    # 216 mm are 8503.9 thousandths, advertised as 8503: 2551 pixels asked, and 2551.2 there.
    src = replace(FLATBED, max_size=Size(8503, 11692), scan_area=(216 * 1000 / 25.4, 297 * 1000 / 25.4))
    caps = replace(CAPS, platen=src, adf_front=src)
    whole_width = RequestedRegion(Requested(0), Requested(0), Requested(8503), Requested(11000))
    final = negotiate(params(front=front(region=whole_width)), caps, FORMATS)
    assert image_window(final.front) == PixelWindow(0, 0, 2551, 3300) and not final.front.region_override
