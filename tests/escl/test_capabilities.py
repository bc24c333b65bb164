"""ScannerCapabilities as the strictest eSCL readers need it."""

from lxml import etree

from gateway import frames_to_files
from gateway.escl import formats
from gateway.escl import namespaces as ns
from gateway.escl.capabilities import scanner_capabilities
from gateway.escl.xml import serialize
from gateway.model import ColorMode, Size
from tests.escl.samples import UUID, capabilities, scanner, source, with_caps

NS = {"scan": ns.SCAN, "pwg": ns.PWG}


def doc(s=None, **kwargs):
    return etree.fromstring(serialize(scanner_capabilities(s or scanner(), **kwargs)))


def texts(el, path):
    return [e.text for e in el.xpath(path, namespaces=NS)]


def test_the_document_binds_exactly_the_scan_and_pwg_prefixes_and_no_default_namespace():
    raw = serialize(scanner_capabilities(scanner()))
    root = etree.fromstring(raw)
    assert root.nsmap == {"scan": ns.SCAN, "pwg": ns.PWG}
    assert raw.startswith(b"<?xml") and b"<scan:ScannerCapabilities " in raw
    assert all(etree.QName(e).namespace in (ns.SCAN, ns.PWG) for e in root.iter())
    assert all(e.prefix in ("scan", "pwg") for e in root.iter())


def test_version_make_and_model_serial_number_and_uuid_are_always_there():
    root = doc()
    assert texts(root, "pwg:Version") == [ns.VERSION]
    assert texts(root, "pwg:MakeAndModel") == ["Noname frontend-tester"]
    assert texts(root, "pwg:SerialNumber") == ["test:0"]
    assert texts(root, "scan:UUID") == [UUID]


def test_make_and_model_does_not_repeat_a_manufacturer_the_model_already_names():
    root = doc(scanner(manufacturer="HP", model="HP ScanJet 5590"))
    assert texts(root, "pwg:MakeAndModel") == ["HP ScanJet 5590"]


def test_a_scanner_without_a_serial_number_gives_its_uuid_as_one():
    assert texts(doc(scanner(serial="")), "pwg:SerialNumber") == [UUID]


def test_admin_and_icon_uris_are_given_when_known():
    root = doc(admin_uri="http://pi.local:8765/", icon_uri="http://pi.local:8765/eSCL/icon.png")
    assert texts(root, "scan:AdminURI") == ["http://pi.local:8765/"]
    assert texts(root, "scan:IconURI") == ["http://pi.local:8765/eSCL/icon.png"]
    assert not doc().xpath("scan:AdminURI|scan:IconURI", namespaces=NS)


def test_platen_input_caps_is_the_first_child_of_platen():
    platen = doc().find(ns.scan("Platen"))
    assert platen[0].tag == ns.scan("PlatenInputCaps")


def test_sizes_are_in_three_hundredths_maxima_rounded_down_and_minima_up():
    caps = doc().find(f"{ns.scan('Platen')}/{ns.scan('PlatenInputCaps')}")
    assert texts(caps, "scan:MaxWidth") == ["2480"]  # 8267 thou = 2480.1
    assert texts(caps, "scan:MaxHeight") == ["3507"]  # 11692 thou = 3507.6
    assert texts(caps, "scan:MinWidth") == ["12"]  # 40 thou = 11.99...
    assert texts(caps, "scan:MaxPhysicalWidth") == ["2480"]
    assert texts(caps, "scan:MaxScanRegions") == ["1"]


def test_every_source_has_its_own_setting_profile_with_its_colour_modes():
    grey_feeder = with_caps(scanner(), adf_front=source(colors=(ColorMode.GRAYSCALE_8,)))
    root = doc(grey_feeder)
    assert texts(root, "scan:Platen/scan:PlatenInputCaps/scan:SettingProfiles/scan:SettingProfile/"
                       "scan:ColorModes/scan:ColorMode") == ["BlackAndWhite1", "Grayscale8", "RGB24"]
    assert texts(root, "scan:Adf/scan:AdfSimplexInputCaps/scan:SettingProfiles/scan:SettingProfile/"
                       "scan:ColorModes/scan:ColorMode") == ["Grayscale8"]
    assert not root.xpath("scan:SettingProfiles", namespaces=NS)


def test_every_format_is_listed_as_document_format_and_as_document_format_ext():
    formats = doc().xpath("scan:Platen//scan:DocumentFormats", namespaces=NS)[0]
    assert [(etree.QName(e).namespace, e.text) for e in formats] == [
        (ns.PWG, "image/jpeg"), (ns.SCAN, "image/jpeg"),
        (ns.PWG, "image/png"), (ns.SCAN, "image/png"),
        (ns.PWG, "application/pdf"), (ns.SCAN, "application/pdf"),
    ]


def test_only_formats_the_core_makes_are_offered():
    root = doc(scanner(capabilities(formats=("png", "dib"))))
    assert texts(root, "scan:Platen//pwg:DocumentFormat") == ["image/png"]


def test_resolutions_are_discrete_pairs_with_x_equal_to_y_that_the_source_has_in_both_directions():
    odd = with_caps(scanner(), platen=source(resolutions_x=(150, 300, 600), resolutions_y=(300, 600, 1200)))
    root = doc(odd)
    pairs = root.xpath("scan:Platen//scan:DiscreteResolution", namespaces=NS)
    assert [(p.findtext(ns.scan("XResolution")), p.findtext(ns.scan("YResolution"))) for p in pairs] == [
        ("300", "300"), ("600", "600")]
    assert not root.xpath("//scan:ResolutionRange|//scan:XResolutionRange", namespaces=NS)


def test_content_types_are_eSCL_keywords():
    assert texts(doc(), "scan:Platen//scan:ContentTypes/pwg:ContentType") == [
        "Auto", "Text", "Photo", "Halftone", "TextAndPhoto"]


def test_intents_differ_for_platen_and_feeder():
    root = doc()
    assert texts(root, "scan:Platen//scan:SupportedIntents/scan:Intent") == [
        "Document", "TextAndGraphic", "Photo", "Preview"]
    assert texts(root, "scan:Adf/scan:AdfSimplexInputCaps/scan:SupportedIntents/scan:Intent") == [
        "Document", "TextAndGraphic", "Photo"]


def test_a_simplex_feeder_has_simplex_caps_and_adf_options_without_duplex():
    adf = doc().find(ns.scan("Adf"))
    assert [etree.QName(e).localname for e in adf] == ["AdfSimplexInputCaps", "AdfOptions"]
    assert texts(adf, "scan:AdfOptions/scan:AdfOption") == []


def test_a_duplex_feeder_has_duplex_caps_and_says_duplex_in_adf_options():
    adf = doc(scanner(capabilities(duplex=True))).find(ns.scan("Adf"))
    assert [etree.QName(e).localname for e in adf] == ["AdfSimplexInputCaps", "AdfDuplexInputCaps", "AdfOptions"]
    assert texts(adf, "scan:AdfOptions/scan:AdfOption") == ["Duplex"]


def test_a_flatbed_only_scanner_has_no_adf_and_a_feeder_only_one_no_platen():
    assert doc(scanner(capabilities(feeder=False))).find(ns.scan("Adf")) is None
    assert doc(scanner(capabilities(platen=False))).find(ns.scan("Platen")) is None


def test_brightness_and_contrast_ranges_are_offered_only_where_the_scanner_has_them():
    assert not doc().xpath("scan:BrightnessSupport|scan:ContrastSupport", namespaces=NS)
    root = doc(scanner(capabilities(brightness=True, contrast=True)))
    for local in ("BrightnessSupport", "ContrastSupport"):
        el = root.find(ns.scan(local))
        assert [(etree.QName(e).localname, e.text) for e in el] == [
            ("Min", "-1000"), ("Max", "1000"), ("Normal", "0"), ("Step", "1")]


def test_sixteen_bit_modes_of_a_source_are_offered_too():
    deep = with_caps(scanner(), platen=source(colors=(ColorMode.GRAYSCALE_8, ColorMode.GRAYSCALE_16,
                                                      ColorMode.RGB_24, ColorMode.RGB_48), max_size=Size(8500, 11000)))
    assert texts(doc(deep), "scan:Platen//scan:ColorMode") == ["Grayscale8", "Grayscale16", "RGB24", "RGB48"]


def test_each_escl_format_is_a_core_format_whose_content_type_is_its_mime():
    table = frames_to_files.format_table()
    for fmt in formats.FORMATS:
        assert table[fmt.core].content_type == fmt.mime
