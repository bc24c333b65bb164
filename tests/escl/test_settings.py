"""ScanSettings -> ScanTicket: what clients send, what we refuse and how."""

from http import HTTPStatus

import pytest

from gateway.escl import namespaces as ns
from gateway.escl.errors import MalformedRequest, UnsupportedSettings
from gateway.escl.settings import parse_scan_settings
from gateway.escl.xml import MAX_DOCUMENT_BYTES, MAX_ELEMENTS, MAX_TEXT
from gateway.model import DocumentParameters, Requested, Size

HEAD = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<scan:ScanSettings xmlns:scan="{ns.SCAN}" xmlns:pwg="{ns.PWG}">')
TAIL = "</scan:ScanSettings>"

SANE_AIRSCAN = HEAD + """
  <pwg:Version>2.0</pwg:Version>
  <pwg:ScanRegions>
    <pwg:ScanRegion>
      <pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>
      <pwg:XOffset>0</pwg:XOffset>
      <pwg:YOffset>0</pwg:YOffset>
      <pwg:Width>2480</pwg:Width>
      <pwg:Height>3507</pwg:Height>
    </pwg:ScanRegion>
  </pwg:ScanRegions>
  <pwg:InputSource>Feeder</pwg:InputSource>
  <scan:ColorMode>Grayscale8</scan:ColorMode>
  <pwg:DocumentFormat>image/png</pwg:DocumentFormat>
  <scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>
  <scan:XResolution>300</scan:XResolution>
  <scan:YResolution>300</scan:YResolution>
  <scan:Duplex>false</scan:Duplex>
""" + TAIL
"""What sane-airscan 0.99.27 sends (escl_scan_query), in its order."""


def settings(body: str) -> DocumentParameters:
    return parse_scan_settings((HEAD + body + TAIL).encode()).parameters


def region(x, y, w, h, units="escl:ThreeHundredthsOfInches"):
    unit = f"<pwg:ContentRegionUnits>{units}</pwg:ContentRegionUnits>" if units else ""
    return (f"<pwg:ScanRegions><pwg:ScanRegion>{unit}<pwg:XOffset>{x}</pwg:XOffset><pwg:YOffset>{y}</pwg:YOffset>"
            f"<pwg:Width>{w}</pwg:Width><pwg:Height>{h}</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>")


def test_what_sane_airscan_sends_becomes_a_feeder_ticket_in_grey_png_at_300_dpi():
    p = parse_scan_settings(SANE_AIRSCAN.encode()).parameters
    assert p.input_source == Requested("ADF", must_honor=True)
    assert p.format == Requested("png", must_honor=True)
    assert p.front.color == Requested("Grayscale8")
    assert p.front.resolution == Requested(Size(300, 300), must_honor=True)
    r = p.front.region
    assert (r.x_offset.value, r.y_offset.value, r.width.value, r.height.value) == (0, 0, 8267, 11690)


def test_a_region_reaching_the_advertised_maximum_ends_within_the_scanner_area():
    # A4 is 8267 thou; advertised as 2480/300 inch, which comes back as 8267, not more.
    r = settings(region(0, 0, 2480, 3507)).front.region
    assert r.width.value <= 8267 and r.height.value <= 11692


def test_region_offsets_are_converted_edge_by_edge():
    r = settings(region(1, 2, 3, 300)).front.region
    # edges at 1/300 = 3 thou, 4/300 = 13 thou; 2/300 = 7 thou, 302/300 = 1007 thou
    assert (r.x_offset.value, r.width.value, r.y_offset.value, r.height.value) == (3, 10, 7, 1000)
    assert not r.width.must_honor


def test_a_region_without_units_is_read_in_three_hundredths():
    r = settings(region(0, 0, 300, 600, units=None)).front.region
    assert (r.width.value, r.height.value) == (1000, 2000)


def test_a_region_in_other_units_is_refused_as_a_conflict():
    with pytest.raises(UnsupportedSettings, match="ContentRegionUnits"):
        settings(region(0, 0, 300, 300, units="escl:Millimeters"))


def test_more_than_one_region_is_refused_as_a_conflict():
    two = region(0, 0, 300, 300).replace("</pwg:ScanRegions>", "") + region(0, 0, 1, 1).replace(
        "<pwg:ScanRegions>", "")
    with pytest.raises(UnsupportedSettings, match="one"):
        settings(two)


def test_settings_with_only_a_version_leave_every_choice_to_the_core():
    p = settings("<pwg:Version>2.63</pwg:Version>")
    assert p.format is None and p.input_source is None and p.content_type is None
    assert p.front.color is None and p.front.resolution is None and p.front.region is None


def test_document_format_ext_wins_over_document_format():
    p = settings("<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
                 "<scan:DocumentFormatExt>image/jpeg</scan:DocumentFormatExt>")
    assert p.format == Requested("jfif", must_honor=True)


def test_an_unusable_document_format_ext_gives_way_to_a_usable_document_format():
    p = settings("<pwg:DocumentFormat>application/pdf</pwg:DocumentFormat>"
                 "<scan:DocumentFormatExt>application/octet-stream</scan:DocumentFormatExt>")
    assert p.format == Requested("pdf-a", must_honor=True)


def test_document_format_ext_alone_is_enough_as_windows_sends_it():
    assert settings("<scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>").format.value == "png"


def test_mime_types_are_read_without_case_or_parameters():
    assert settings("<pwg:DocumentFormat>Image/JPEG; q=1</pwg:DocumentFormat>").format.value == "jfif"


def test_a_format_we_do_not_make_is_a_conflict_that_names_it():
    with pytest.raises(UnsupportedSettings, match="image/gif") as e:
        settings("<pwg:DocumentFormat>image/gif</pwg:DocumentFormat>")
    assert e.value.status == HTTPStatus.CONFLICT


@pytest.mark.parametrize("source, duplex, expected", [
    ("Platen", None, "Platen"), ("Platen", "false", "Platen"), ("Feeder", None, "ADF"),
    ("Feeder", "false", "ADF"), ("Feeder", "true", "ADFDuplex"), ("Feeder", "1", "ADFDuplex"),
    (None, "true", "ADFDuplex"),
])
def test_input_source_and_duplex_name_the_platen_the_feeder_or_both_sides(source, duplex, expected):
    body = (f"<pwg:InputSource>{source}</pwg:InputSource>" if source else "") + (
        f"<scan:Duplex>{duplex}</scan:Duplex>" if duplex else "")
    assert settings(body).input_source == Requested(expected, must_honor=True)


def test_duplex_from_the_platen_is_a_conflict():
    with pytest.raises(UnsupportedSettings, match="Feeder"):
        settings("<pwg:InputSource>Platen</pwg:InputSource><scan:Duplex>true</scan:Duplex>")


def test_the_camera_is_a_conflict():
    with pytest.raises(UnsupportedSettings, match="Camera"):
        settings("<pwg:InputSource>Camera</pwg:InputSource>")


@pytest.mark.parametrize("intent, content", [
    ("Document", "Text"), ("TextAndGraphic", "Mixed"), ("Photo", "Photo"), ("Preview", "Auto"),
    ("Object", "Photo"), ("BusinessCard", "Text")])
def test_an_intent_picks_the_content_type(intent, content):
    assert settings(f"<scan:Intent>{intent}</scan:Intent>").content_type == Requested(content)


def test_a_content_type_says_more_than_an_intent_and_wins():
    p = settings("<scan:Intent>Photo</scan:Intent><pwg:ContentType>LineArt</pwg:ContentType>")
    assert p.content_type == Requested("Text")


def test_an_unknown_intent_leaves_the_content_type_to_the_core():
    assert settings("<scan:Intent>Hologram</scan:Intent>").content_type is None


def test_one_resolution_given_is_used_for_both_directions():
    assert settings("<scan:XResolution>600</scan:XResolution>").front.resolution.value == Size(600, 600)
    assert settings("<scan:YResolution>150</scan:YResolution>").front.resolution.value == Size(150, 150)


def test_the_colour_mode_is_passed_on_for_the_core_to_match():
    assert settings("<scan:ColorMode>BlackAndWhite1</scan:ColorMode>").front.color == Requested("BlackAndWhite1")


def test_brightness_and_contrast_are_passed_on():
    p = settings("<scan:Brightness>250</scan:Brightness><scan:Contrast>-100</scan:Contrast>")
    assert (p.brightness, p.contrast) == (Requested(250), Requested(-100))


def test_elements_are_found_by_namespace_whatever_the_prefix():
    body = (f'<s:ScanSettings xmlns:s="{ns.SCAN}" xmlns:p="{ns.PWG}"><p:InputSource>Platen</p:InputSource>'
            f'<s:XResolution>75</s:XResolution></s:ScanSettings>')
    p = parse_scan_settings(body.encode()).parameters
    assert p.input_source.value == "Platen" and p.front.resolution.value == Size(75, 75)


def test_an_element_in_the_other_escl_namespace_is_still_read():
    assert settings("<scan:InputSource>Feeder</scan:InputSource>").input_source.value == "ADF"


def test_unknown_elements_are_ignored():
    p = settings("<scan:FeedDirection>LongEdgeFeed</scan:FeedDirection><scan:Gamma>1</scan:Gamma>"
                 "<scan:CompressionFactor>25</scan:CompressionFactor>")
    assert p == DocumentParameters(front=p.front)


@pytest.mark.parametrize("body, reason", [
    (b"", "no body"),
    (b"   ", "no body"),
    (b"<not xml", "well-formed"),
    (b"\xff\xfe<x/>", "well-formed"),
    (f'<scan:ScanJobs xmlns:scan="{ns.SCAN}"/>'.encode(), "root element is scan:ScanJobs"),
    (b"<ScanSettings/>", "root element is ScanSettings"),
    (SANE_AIRSCAN.replace("<scan:XResolution>300", "<scan:XResolution>high").encode(), "integer"),
    (SANE_AIRSCAN.replace("<scan:XResolution>300", "<scan:XResolution>3e2").encode(), "integer"),
    (SANE_AIRSCAN.replace("<scan:XResolution>300", "<scan:XResolution>99999999999").encode(), "out of range"),
    (SANE_AIRSCAN.replace("<scan:Duplex>false", "<scan:Duplex>maybe").encode(), "true or false"),
    (SANE_AIRSCAN.replace("<pwg:Width>2480", "<pwg:Width>-").encode(), "integer"),
    (SANE_AIRSCAN.replace("<scan:ColorMode>Grayscale8", "<scan:ColorMode><b/>").encode(), "text"),
])
def test_a_body_that_is_not_scan_settings_is_malformed_with_a_reason(body, reason):
    with pytest.raises(MalformedRequest, match=reason) as e:
        parse_scan_settings(body)
    assert e.value.status == HTTPStatus.BAD_REQUEST


def test_a_document_type_declaration_is_refused():
    laughs = ('<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              + HEAD[HEAD.index("<scan:"):] + "<scan:ColorMode>&lol2;</scan:ColorMode>" + TAIL)
    with pytest.raises(MalformedRequest, match="document type"):
        parse_scan_settings(laughs.encode())


def test_an_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("RGB24")
    body = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
            + HEAD[HEAD.index("<scan:"):] + "<scan:ColorMode>&e;</scan:ColorMode>" + TAIL)
    with pytest.raises(MalformedRequest):
        parse_scan_settings(body.encode())


def test_a_body_larger_than_the_limit_is_refused_before_parsing():
    padding = "<scan:Note>" + "x" * MAX_DOCUMENT_BYTES + "</scan:Note>"
    with pytest.raises(MalformedRequest, match="larger than"):
        parse_scan_settings((HEAD + padding + TAIL).encode())


def test_a_body_of_too_many_elements_is_refused():
    with pytest.raises(MalformedRequest, match="elements"):
        settings("<scan:X/>" * MAX_ELEMENTS)


def test_an_overlong_text_is_refused_and_not_echoed_whole():
    long = "R" * (MAX_TEXT + 1)
    with pytest.raises(MalformedRequest, match="longer than") as e:
        settings(f"<scan:ColorMode>{long}</scan:ColorMode>")
    assert long not in e.value.reason


def test_a_refusal_reason_quoting_client_text_is_one_bounded_line():
    with pytest.raises(UnsupportedSettings) as e:
        settings("<pwg:InputSource>A\nB" + "c" * 240 + "</pwg:InputSource>")
    assert "\n" not in e.value.reason and len(e.value.reason) <= 300
