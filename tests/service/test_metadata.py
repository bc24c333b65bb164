"""DPWS metadata: what Windows installs its WSD scan driver from."""

from gateway.wsd import namespaces as ns
from tests.support.soap_client import envelope, post


def get_metadata(gw, to):
    return post(gw.url, envelope(ns.GET_ACTION, None, to=to))


def test_transfer_get_addressed_to_the_device_uuid_answers_metadata(gateway):
    r = get_metadata(gateway, f"urn:uuid:{gateway.uuid}")
    assert r.status == 200
    assert r.text(".//wsa:Action") == ns.GET_RESPONSE_ACTION
    dialects = [s.get("Dialect") for s in r.xml.iter(ns.qname(ns.WSX, "MetadataSection"))]
    assert dialects == [ns.DIALECT_THIS_MODEL, ns.DIALECT_THIS_DEVICE, ns.DIALECT_RELATIONSHIP]


def test_transfer_get_addressed_to_the_url_answers_metadata(gateway):
    r = get_metadata(gateway, gateway.url)
    assert r.status == 200
    assert r.find(".//wsdp:ThisDevice/wsdp:FriendlyName") is not None


def test_transfer_get_posted_to_the_root_finds_the_device_by_its_uuid(gateway):
    r = post(f"http://127.0.0.1:{gateway.port}/", envelope(ns.GET_ACTION, None, to=f"urn:uuid:{gateway.uuid}"))
    assert r.status == 200
    assert r.text(".//wsdp:Host/wsa:EndpointReference/wsa:Address") == f"urn:uuid:{gateway.uuid}"


def test_this_model_names_the_scanner_category_and_a_presentation_page(gateway):
    r = get_metadata(gateway, gateway.url)
    assert r.text(".//wsdp:ThisModel/pnpx:DeviceCategory") == "Scanners"
    assert r.text(".//wsdp:ThisModel/wsdp:Manufacturer") == "Noname"
    assert r.text(".//wsdp:ThisModel/wsdp:PresentationUrl") == f"http://127.0.0.1:{gateway.port}/"


def test_this_device_carries_friendly_name_serial_and_our_version(gateway):
    r = get_metadata(gateway, gateway.url)
    assert "frontend-tester" in r.text(".//wsdp:ThisDevice/wsdp:FriendlyName")
    assert r.text(".//wsdp:ThisDevice/wsdp:SerialNumber") == "sane:test:0"
    assert r.text(".//wsdp:ThisDevice/wsdp:FirmwareVersion").startswith("sane-wsd-gateway ")


def test_hosted_service_is_a_scanner_service_windows_can_match(gateway):
    r = get_metadata(gateway, gateway.url)
    hosted = r.find(".//wsdp:Relationship/wsdp:Hosted")
    types = hosted.find(ns.qname(ns.WSDP, "Types"))
    prefix, local = types.text.split(":")
    assert (types.nsmap[prefix], local) == (ns.WSCN, "ScannerServiceType")
    assert hosted.findtext(ns.qname(ns.PNPX, "CompatibleId")) == \
        "http://schemas.microsoft.com/windows/2006/08/wdp/scan/ScannerServiceType"
    assert hosted.findtext(ns.qname(ns.PNPX, "HardwareId"))
    address = hosted.findtext(f"{ns.qname(ns.WSA, 'EndpointReference')}/{ns.qname(ns.WSA, 'Address')}")
    assert address == gateway.scan_url


def test_status_page_shows_the_scanner_and_its_state(gateway):
    page = gateway.get("/").decode()
    assert "test:0" in page and "Idle" in page
