"""GetScannerElements, built from the test backend's real SANE options."""

from lxml import etree

from gateway.wsd import namespaces as ns
from tests.support.soap_client import call, el, envelope, post, q, ticket


def elements(gw, *names):
    body = el("GetScannerElementsRequest", el("RequestedElements", *[el("Name", text=n) for n in names]))
    return call(gw.scan_url, "GetScannerElements", body)


def test_configuration_lists_platen_and_feeder_of_the_test_device(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration")
    assert r.status == 200
    assert r.find(".//wscn:Platen") is not None
    assert r.text(".//wscn:ADF/wscn:ADFSupportsDuplex") == "false"
    assert r.find(".//wscn:ADF/wscn:ADFBack") is None


def test_configuration_offers_every_colour_mode_the_backend_has(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration")
    colors = [e.text for e in r.xml.iterfind(".//" + q("PlatenColor") + "/" + q("ColorEntry"))]
    assert colors == ["BlackAndWhite1", "Grayscale8", "Grayscale16", "RGB24", "RGB48"]


def test_configuration_publishes_a_discrete_resolution_list_within_the_backend_range(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration")
    widths = [int(e.text) for e in r.xml.iterfind(".//" + q("PlatenResolutions") + "//" + q("Width"))]
    assert 300 in widths and 600 in widths and max(widths) == 1200


def test_maximum_size_comes_from_the_geometry_range_in_thousandths_of_an_inch(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration")
    assert r.text(".//wscn:PlatenMaximumSize/wscn:Width") == "11811"  # 300 mm
    assert r.text(".//wscn:PlatenMaximumSize/wscn:Height") == "11811"


def test_formats_supported_are_those_the_encoder_writes(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration")
    formats = [e.text for e in r.xml.iterfind(".//" + q("FormatValue"))]
    assert {"png", "jfif", "dib"} <= set(formats)


def test_status_of_an_idle_scanner(gateway):
    r = elements(gateway, "wscn:ScannerStatus")
    assert r.text(".//wscn:ScannerState") == "Idle"
    assert r.find(".//wscn:ActiveConditions") is not None


def test_description_names_the_scanner(gateway):
    r = elements(gateway, "wscn:ScannerDescription")
    assert "frontend-tester" in r.text(".//wscn:ScannerName")


def test_default_ticket_can_be_asked_for(gateway):
    r = elements(gateway, "wscn:DefaultScanTicket")
    assert r.text(".//wscn:DefaultScanTicket//wscn:InputSource") == "Platen"
    assert r.text(".//wscn:DefaultScanTicket//wscn:Format") == "png"


def test_unknown_element_name_is_answered_with_valid_false(gateway):
    r = elements(gateway, "wscn:ScannerStatus", "wscn:NoSuchThing")
    data = r.xml.findall(".//" + q("ElementData"))
    assert [(d.get("Name"), d.get("Valid")) for d in data] == [
        ("wscn:ScannerStatus", "true"), ("wscn:NoSuchThing", "false")]


def test_name_and_valid_are_unprefixed_attributes_as_the_schema_declares_them(gateway):
    [data] = elements(gateway, "wscn:ScannerDescription").xml.findall(".//" + q("ElementData"))
    assert sorted(data.attrib) == ["Name", "Valid"]


def test_names_are_resolved_by_namespace_not_by_prefix(gateway):
    env = etree.fromstring(envelope(ns.scan_action("GetScannerElements"), None, gateway.scan_url))
    request = etree.SubElement(env.find(ns.qname(ns.SOAP, "Body")), q("GetScannerElementsRequest"))
    requested = etree.SubElement(request, q("RequestedElements"))
    name = etree.SubElement(requested, q("Name"), nsmap={"s": ns.WSCN})
    name.text = "s:ScannerStatus"
    r = post(gateway.scan_url, etree.tostring(env))
    assert r.text(".//wscn:ScannerState") == "Idle"


def test_an_unknown_vendor_name_is_echoed_as_a_qname_whose_prefix_is_declared(gateway):
    env = etree.fromstring(envelope(ns.scan_action("GetScannerElements"), None, gateway.scan_url))
    request = etree.SubElement(env.find(ns.qname(ns.SOAP, "Body")), q("GetScannerElementsRequest"))
    requested = etree.SubElement(request, q("RequestedElements"))
    name = etree.SubElement(requested, q("Name"), nsmap={"ihv": "http://example.com/ext"})
    name.text = "ihv:Gadget"
    r = post(gateway.scan_url, etree.tostring(env))
    [data] = r.xml.findall(".//" + q("ElementData"))
    prefix, local = data.get("Name").split(":")
    assert (data.nsmap[prefix], local) == ("http://example.com/ext", "Gadget")
    assert data.get("Valid") == "false"


def test_validation_info_lists_image_information_before_a_corrected_ticket(gateway):
    r = call(gateway.scan_url, "ValidateScanTicket", el("ValidateScanTicketRequest", ticket(dpi=333)))
    children = [etree.QName(c).localname for c in r.find(".//wscn:ValidationInfo")]
    assert children == ["ValidTicket", "ImageInformation", "ValidScanTicket"]


def test_each_name_asked_for_is_answered_once(gateway):
    r = elements(gateway, "wscn:ScannerConfiguration", "wscn:ScannerStatus", "wscn:ScannerConfiguration",
                 "wscn:ScannerStatus")
    assert r.status == 200
    assert len(r.xml.findall(".//" + q("ElementData"))) == 2
    assert len(r.xml.findall(".//" + q("ScannerConfiguration"))) == 1


def test_a_request_naming_thousands_of_elements_is_refused_without_building_them(gateway):
    """A 240 KB request naming ScannerConfiguration 5,000 times used to get 21.5 MB back."""
    r = elements(gateway, *["wscn:ScannerConfiguration"] * 5000)
    assert (r.status, r.fault_subcode) == (400, "wscn:InvalidArgs")
    assert len(r.body) < 4096


def test_as_many_names_as_the_cap_are_answered(gateway):
    from gateway.wsd.scan_messages.elements import MAX_REQUESTED_NAMES
    r = elements(gateway, *["wscn:ScannerConfiguration"] * MAX_REQUESTED_NAMES)
    assert r.status == 200 and len(r.xml.findall(".//" + q("ElementData"))) == 1
