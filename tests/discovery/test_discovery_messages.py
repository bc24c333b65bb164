"""The WS-Discovery wire format: what we build, what we accept, how we match."""

import pytest
from lxml import etree

from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import MATCH_BY_STRCMP0, MATCH_BY_UUID
from gateway.wsd.discovery.messages import (
    AppSequence, Probe, Resolve, Target, build_bye, build_hello,
    build_probe_matches, build_resolve_matches, parse_message, probe_matches, scopes_match, types_match,
)
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import MalformedMessage, parse_envelope

ENDPOINT = "urn:uuid:6f0b8d5e-1f0e-4d9b-9a43-3c1c1d2b7a10"
TARGET = Target(ENDPOINT, (ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE), ("http://example.org/scanners/office",),
                ("http://192.168.1.5:8765/6f0b8d5e",), 7)
SEQ = AppSequence(1700000000, 42)


def body_child(data: bytes, local: str) -> etree._Element:
    env = parse_envelope(data)
    assert env.body.tag == qname(ns.WSD, local)
    return env.body


def header_text(data: bytes, namespace: str, local: str) -> str | None:
    el = parse_envelope(data).header_element(namespace, local)
    return el.text if el is not None else None


def resolved_types(el: etree._Element) -> set[str]:
    types = el.find(qname(ns.WSD, "Types"))
    out = set()
    for word in types.text.split():
        prefix, local = word.split(":")
        out.add(qname(types.nsmap[prefix], local))
    return out


def test_hello_goes_to_the_discovery_urn_with_the_hello_action():
    env = parse_envelope(build_hello(TARGET, SEQ))
    assert env.action == ns.HELLO_ACTION
    assert env.to == ns.DISCOVERY_URN
    assert env.message_id.startswith("urn:uuid:")


def test_hello_carries_endpoint_types_scopes_xaddrs_and_metadata_version():
    hello = body_child(build_hello(TARGET, SEQ), "Hello")
    assert hello.findtext(f"{qname(ns.WSA, 'EndpointReference')}/{qname(ns.WSA, 'Address')}") == ENDPOINT
    assert resolved_types(hello) == {ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE}
    assert hello.findtext(qname(ns.WSD, "Scopes")) == "http://example.org/scanners/office"
    assert hello.findtext(qname(ns.WSD, "XAddrs")) == "http://192.168.1.5:8765/6f0b8d5e"
    assert hello.findtext(qname(ns.WSD, "MetadataVersion")) == "7"


def test_hello_carries_the_app_sequence():
    seq = parse_envelope(build_hello(TARGET, SEQ)).header_element(ns.WSD, "AppSequence")
    assert (seq.get("InstanceId"), seq.get("MessageNumber")) == ("1700000000", "42")


def test_types_outside_the_envelope_namespaces_get_their_own_prefix_declaration():
    target = Target(ENDPOINT, (ns.DEVICE_TYPE, "{urn:example:types}Thing"), (), ("http://h/",), 1)
    assert resolved_types(body_child(build_hello(target, SEQ), "Hello")) == {ns.DEVICE_TYPE,
                                                                          "{urn:example:types}Thing"}


def test_bye_goes_to_the_discovery_urn_and_names_only_the_endpoint():
    data = build_bye(ENDPOINT, SEQ)
    env = parse_envelope(data)
    assert (env.action, env.to) == (ns.BYE_ACTION, ns.DISCOVERY_URN)
    bye = body_child(data, "Bye")
    assert [c.tag for c in bye] == [qname(ns.WSA, "EndpointReference")]
    assert bye.findtext(f".//{qname(ns.WSA, 'Address')}") == ENDPOINT
    assert env.header_element(ns.WSD, "AppSequence") is not None


def test_probe_matches_relate_to_the_probe_and_go_to_anonymous():
    data = build_probe_matches(TARGET, SEQ, "urn:uuid:probe-1")
    env = parse_envelope(data)
    assert (env.action, env.to) == (ns.PROBE_MATCHES_ACTION, ns.ANONYMOUS)
    assert header_text(data, ns.WSA, "RelatesTo") == "urn:uuid:probe-1"
    match = body_child(data, "ProbeMatches").find(qname(ns.WSD, "ProbeMatch"))
    assert match.findtext(qname(ns.WSD, "XAddrs")) == TARGET.xaddrs[0]
    assert resolved_types(match) == set(TARGET.types)
    assert match.findtext(qname(ns.WSD, "MetadataVersion")) == "7"
    assert env.header_element(ns.WSD, "AppSequence").get("MessageNumber") == "42"


def test_resolve_matches_relate_to_the_resolve_and_carry_xaddrs():
    data = build_resolve_matches(TARGET, SEQ, "urn:uuid:resolve-1")
    env = parse_envelope(data)
    assert (env.action, env.to) == (ns.RESOLVE_MATCHES_ACTION, ns.ANONYMOUS)
    assert header_text(data, ns.WSA, "RelatesTo") == "urn:uuid:resolve-1"
    match = body_child(data, "ResolveMatches").find(qname(ns.WSD, "ResolveMatch"))
    assert match.findtext(f".//{qname(ns.WSA, 'Address')}") == ENDPOINT
    assert match.findtext(qname(ns.WSD, "XAddrs")) == TARGET.xaddrs[0]


def probe_xml(types_el: str = "", scopes_el: str = "", envelope_ns: str = "", message_id: str = "urn:uuid:p-1") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="{ns.SOAP}" xmlns:wsa="{ns.WSA}" xmlns:wsd="{ns.WSD}" {envelope_ns}>
 <soap:Header>
  <wsa:To>{ns.DISCOVERY_URN}</wsa:To>
  <wsa:Action>{ns.PROBE_ACTION}</wsa:Action>
  <wsa:MessageID>{message_id}</wsa:MessageID>
 </soap:Header>
 <soap:Body><wsd:Probe>{types_el}{scopes_el}</wsd:Probe></soap:Body>
</soap:Envelope>""".encode()


def test_probe_with_prefixes_declared_on_the_types_element_is_resolved_by_namespace():
    data = probe_xml(f'<wsd:Types xmlns:dp0="{ns.WSDP}" xmlns:sc="{ns.WSCN}">dp0:Device sc:ScanDeviceType</wsd:Types>')
    probe = parse_message(data)
    assert probe.types == (ns.DEVICE_TYPE, ns.SCAN_DEVICE_TYPE)
    assert probe_matches(probe, TARGET)


def test_probe_with_prefixes_declared_on_the_envelope_is_resolved_too():
    probe = parse_message(probe_xml("<wsd:Types>x:Device</wsd:Types>", envelope_ns=f'xmlns:x="{ns.WSDP}"'))
    assert probe.types == (ns.DEVICE_TYPE,)


def test_probe_for_a_type_of_the_right_name_in_another_namespace_does_not_match():
    probe = parse_message(probe_xml('<wsd:Types xmlns:p="http://example.org/other">p:Device</wsd:Types>'))
    assert not probe_matches(probe, TARGET)


def test_probe_for_a_type_we_are_not_does_not_match():
    probe = parse_message(probe_xml(f'<wsd:Types xmlns:p="{ns.WSCN}">p:PrinterServiceType</wsd:Types>'))
    assert not probe_matches(probe, TARGET)


def test_probe_must_match_every_listed_type():
    probe = parse_message(probe_xml(
        f'<wsd:Types xmlns:a="{ns.WSDP}" xmlns:b="urn:x">a:Device b:Printer</wsd:Types>'))
    assert not probe_matches(probe, TARGET)


def test_probe_without_types_or_with_empty_types_matches():
    assert probe_matches(parse_message(probe_xml()), TARGET)
    assert probe_matches(parse_message(probe_xml("<wsd:Types/>")), TARGET)


def test_probe_with_an_undeclared_prefix_is_malformed():
    with pytest.raises(MalformedMessage):
        parse_message(probe_xml("<wsd:Types>nope:Device</wsd:Types>"))


def test_probe_scopes_and_match_rule_are_read():
    probe = parse_message(probe_xml(scopes_el=f'<wsd:Scopes MatchBy="{MATCH_BY_STRCMP0}"> a  b </wsd:Scopes>'))
    assert (probe.scopes, probe.match_by) == (("a", "b"), MATCH_BY_STRCMP0)


def test_resolve_is_parsed_with_its_endpoint():
    data = f"""<soap:Envelope xmlns:soap="{ns.SOAP}" xmlns:wsa="{ns.WSA}" xmlns:wsd="{ns.WSD}">
 <soap:Header><wsa:Action>{ns.RESOLVE_ACTION}</wsa:Action><wsa:MessageID>urn:uuid:r</wsa:MessageID></soap:Header>
 <soap:Body><wsd:Resolve><wsa:EndpointReference><wsa:Address> {ENDPOINT} </wsa:Address></wsa:EndpointReference>
 </wsd:Resolve></soap:Body></soap:Envelope>""".encode()
    assert parse_message(data) == Resolve("urn:uuid:r", ENDPOINT)


def test_other_discovery_messages_are_not_requests():
    assert parse_message(build_hello(TARGET, SEQ)) is None


@pytest.mark.parametrize("data", [
    b"", b"\x00\xff garbage", b"<not-soap/>", b"<a>unclosed",
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    probe_xml(message_id=""),
    probe_xml().replace(b"<wsd:Probe>", b"<wsd:Hello>").replace(b"</wsd:Probe>", b"</wsd:Hello>"),
])
def test_malformed_requests_raise_malformed_message(data):
    with pytest.raises(MalformedMessage):
        parse_message(data)


@pytest.mark.parametrize("wanted, offered, expected", [
    ("http://example.org/scanners", "http://example.org/scanners/office", True),
    ("HTTP://EXAMPLE.ORG/scanners", "http://example.org/scanners/office", True),
    ("http://example.org/scanners/", "http://example.org/scanners/office", True),
    ("http://example.org/scan", "http://example.org/scanners/office", False),
    ("http://example.org/Scanners", "http://example.org/scanners/office", False),
    ("http://example.org/scanners/office/2", "http://example.org/scanners/office", False),
    ("http://example.org/a%20b", "http://example.org/a b/c", True),
    ("http://example.org/./scanners", "http://example.org/scanners", False),
    ("http://other.org/scanners", "http://example.org/scanners", False),
])
def test_rfc3986_scope_matching_is_a_segment_wise_prefix(wanted, offered, expected):
    assert scopes_match((wanted,), (offered,)) is expected
    assert scopes_match((wanted,), (offered,), ns.MATCH_BY_RFC3986) is expected


def test_every_probe_scope_must_match_some_offered_scope():
    offered = ("http://example.org/a/b", "http://example.org/c")
    assert scopes_match(("http://example.org/a", "http://example.org/c"), offered)
    assert not scopes_match(("http://example.org/a", "http://example.org/d"), offered)
    assert scopes_match((), offered)
    assert not scopes_match(("http://example.org/a",), ())


def test_strcmp0_and_uuid_scope_rules():
    assert scopes_match(("abc",), ("abc",), MATCH_BY_STRCMP0)
    assert not scopes_match(("ABC",), ("abc",), MATCH_BY_STRCMP0)
    u = "6f0b8d5e-1f0e-4d9b-9a43-3c1c1d2b7a10"
    assert scopes_match((f"uuid:{u.upper()}",), (f"urn:uuid:{u}",), MATCH_BY_UUID)


def test_an_unknown_scope_rule_matches_nothing_but_an_empty_scope_list():
    assert not scopes_match(("ldap:///x",), ("ldap:///x",), ns.WSD + "/ldap")
    assert probe_matches(Probe("m", (), (), "urn:unknown-rule"), TARGET)


def test_types_match_needs_every_wanted_type():
    assert types_match((ns.DEVICE_TYPE,), TARGET.types)
    assert not types_match((ns.DEVICE_TYPE, ns.SCANNER_SERVICE_TYPE), TARGET.types)
