"""Envelope parsing at the edge: only a well-formed SOAP 1.2 envelope gets through."""

import pytest
from lxml import etree

from gateway.wsd import namespaces as ns
from gateway.wsd.soap import MAX_BODY_BYTES, MalformedMessage, SoapFault, build_fault, invalid_args, \
    parse_envelope
from tests.support.soap_client import el, envelope


def test_a_well_formed_envelope_yields_action_message_id_and_body():
    env = parse_envelope(envelope(ns.scan_action("GetActiveJobs"), el("GetActiveJobsRequest"), to="urn:uuid:x"))
    assert env.action == ns.scan_action("GetActiveJobs") and env.to == "urn:uuid:x"
    assert env.message_id.startswith("urn:uuid:")
    assert etree.QName(env.body).localname == "GetActiveJobsRequest"


def test_soap_1_1_is_not_accepted():
    with pytest.raises(MalformedMessage):
        parse_envelope(b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body/></e:Envelope>")


def test_a_document_type_declaration_is_refused():
    with pytest.raises(MalformedMessage):
        parse_envelope(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>")


def test_a_body_over_the_limit_is_refused():
    with pytest.raises(MalformedMessage):
        parse_envelope(b" " * (MAX_BODY_BYTES + 1))


def test_missing_action_is_its_own_fault():
    data = envelope("x", None)
    root = etree.fromstring(data)
    header = root.find(ns.qname(ns.SOAP, "Header"))
    header.remove(header.find(ns.qname(ns.WSA, "Action")))
    with pytest.raises(SoapFault) as e:
        parse_envelope(etree.tostring(root))
    assert e.value.subcode == ns.qname(ns.WSA, "MessageInformationHeaderRequired")


def test_a_fault_has_code_subcode_reason_and_the_fault_action():
    env = build_fault(invalid_args("bad ticket"), relates_to="urn:uuid:1")
    f = env.find(f".//{ns.qname(ns.SOAP, 'Fault')}")
    assert f.findtext(f"{{{ns.SOAP}}}Code/{{{ns.SOAP}}}Value") == "soap:Sender"
    assert f.findtext(f"{{{ns.SOAP}}}Code/{{{ns.SOAP}}}Subcode/{{{ns.SOAP}}}Value") == "wscn:InvalidArgs"
    assert f.findtext(f"{{{ns.SOAP}}}Reason/{{{ns.SOAP}}}Text") == "bad ticket"
    assert env.findtext(f".//{ns.qname(ns.WSA, 'Action')}") == ns.FAULT_ACTION
