"""Bad requests get the fault the spec names (or an HTTP 4xx), and nothing else is disturbed."""

from gateway.wsd import namespaces as ns
from gateway.wsd.soap import MAX_BODY_BYTES
from tests.support.soap_client import call, create_job, el, envelope, job_of, post, retrieve, ticket


def test_unknown_action_is_action_not_supported(gateway):
    r = post(gateway.scan_url, envelope(ns.WSCN + "/MakeCoffee", el("MakeCoffeeRequest")))
    assert r.status == 400
    assert r.fault_subcode == "wsa:ActionNotSupported"
    assert r.text(".//wsa:Action") == ns.FAULT_ACTION


def test_fault_relates_to_the_request(gateway):
    data = envelope(ns.WSCN + "/MakeCoffee", el("MakeCoffeeRequest"))
    r = post(gateway.scan_url, data)
    from lxml import etree
    sent = etree.fromstring(data).findtext(".//" + ns.qname(ns.WSA, "MessageID"))
    assert r.text(".//wsa:RelatesTo") == sent


def test_malformed_xml_is_a_sender_fault(gateway):
    r = post(gateway.scan_url, b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><unclosed>")
    assert r.status == 400
    assert r.text(".//s:Fault/s:Code/s:Value") == "soap:Sender"


def test_an_envelope_without_body_is_a_sender_fault(gateway):
    from lxml import etree
    env = etree.fromstring(envelope(ns.scan_action("GetActiveJobs"), None))
    env.remove(env.find(ns.qname(ns.SOAP, "Body")))
    r = post(gateway.scan_url, etree.tostring(env))
    assert r.status == 400 and r.fault_subcode == "wscn:InvalidArgs"


def test_missing_action_header_is_a_sender_fault(gateway):
    from lxml import etree
    env = etree.fromstring(envelope(ns.scan_action("GetActiveJobs"), el("GetActiveJobsRequest")))
    header = env.find(ns.qname(ns.SOAP, "Header"))
    header.remove(header.find(ns.qname(ns.WSA, "Action")))
    r = post(gateway.scan_url, etree.tostring(env))
    assert r.status == 400 and r.fault_subcode == "wsa:MessageInformationHeaderRequired"


def test_wrong_content_type_is_415(gateway):
    r = post(gateway.scan_url, b"hello", content_type="text/plain")
    assert r.status == 415


def test_oversized_body_is_413_before_it_is_read(gateway):
    r = post(gateway.scan_url, b" " * (MAX_BODY_BYTES + 1))
    assert r.status == 413


def test_entity_expansion_is_refused_without_expanding(gateway):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><soap:Body>&lol2;</soap:Body>"
            b"</soap:Envelope>")
    r = post(gateway.scan_url, bomb)
    assert r.status == 400 and b"lollol" not in r.body


def test_external_entity_is_never_read(gateway):
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
           b"<soap:Envelope xmlns:soap='http://www.w3.org/2003/05/soap-envelope'><soap:Body>&secret;</soap:Body>"
           b"</soap:Envelope>")
    r = post(gateway.scan_url, xxe)
    assert r.status == 400
    assert open("/etc/hostname", "rb").read().strip() not in r.body


def test_non_numeric_job_id_is_invalid_args(gateway):
    r = call(gateway.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text="seven"),
             el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    assert r.status == 400 and r.fault_subcode == "wscn:InvalidArgs"


def test_create_job_without_a_ticket_is_invalid_args(gateway):
    r = call(gateway.scan_url, "CreateScanJob", el("CreateScanJobRequest"))
    assert r.fault_subcode == "wscn:InvalidArgs"


def test_unsupported_format_is_the_fault_the_windows_driver_falls_back_on(gateway):
    r = create_job(gateway.scan_url, ticket(fmt="xps"))
    assert r.status == 400 and r.fault_subcode == "wscn:ClientErrorFormatNotSupported"


def test_region_outside_the_scan_area_is_invalid_args(gateway):
    r = create_job(gateway.scan_url, ticket(region=(20000, 0, 1000, 1000)))
    assert r.fault_subcode == "wscn:InvalidArgs"


def test_push_scan_identifier_without_a_waiting_scan_is_refused(gateway):
    r = call(gateway.scan_url, "CreateScanJob", el("CreateScanJobRequest", el("ScanIdentifier", text="x"),
             ticket()))
    assert r.fault_subcode == "wscn:ClientErrorInvalidScanIdentifier"


def test_a_bad_request_leaves_a_running_job_untouched(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    post(gateway.scan_url, b"<garbage")
    retrieve(gateway.scan_url, job_id + 1, token)
    retrieve(gateway.scan_url, job_id, "wrong")
    good = retrieve(gateway.scan_url, job_id, token)
    assert good.status == 200 and good.image.startswith(b"\x89PNG")


def test_each_fault_is_logged_once(gateway):
    before = gateway.log().count("fault wsa:ActionNotSupported") + gateway.log().count("ActionNotSupported:")
    post(gateway.scan_url, envelope(ns.WSCN + "/Nope", el("NopeRequest")))
    import time
    time.sleep(0.3)
    after = gateway.log().count("fault wsa:ActionNotSupported") + gateway.log().count("ActionNotSupported:")
    assert after == before + 1


def test_a_format_that_cannot_hold_an_insisted_colour_mode_is_refused(gateway):
    r = create_job(gateway.scan_url, ticket(fmt="tiff-single-g4", color="RGB24", must_honor=("ColorProcessing",)))
    assert r.fault_subcode == "wscn:ClientErrorFormatNotSupported"


def test_a_format_that_cannot_hold_the_colour_mode_gets_the_nearest_one_it_can(gateway):
    r = create_job(gateway.scan_url, ticket(fmt="tiff-single-g4", color="Grayscale8", dpi=75))
    assert r.status == 200
    color = r.find(".//wscn:DocumentFinalParameters//wscn:ColorProcessing")
    assert color.text == "BlackAndWhite1"
    assert color.get("{http://schemas.microsoft.com/windows/2006/08/wdp/scan}Override") == "true"
    job_id, token = job_of(r)
    assert retrieve(gateway.scan_url, job_id, token).image.startswith((b"II*\x00", b"MM\x00*"))
