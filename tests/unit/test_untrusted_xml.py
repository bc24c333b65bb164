"""The one parser every front end reads network XML with."""

import pytest

from gateway.untrusted_xml import Refused, parse


def test_a_small_document_is_read():
    assert parse(b"<a><b>1</b></a>", 100).find("b").text == "1"


def test_a_document_over_the_size_limit_is_refused_before_parsing():
    with pytest.raises(Refused, match="larger than 10 bytes"):
        parse(b"<a>" + b"x" * 20 + b"</a>", 10)


def test_a_dtd_is_refused_and_its_entities_never_expanded():
    bomb = b'<!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]><a>&y;</a>'
    with pytest.raises(Refused, match="document type"):
        parse(bomb, 1000)


def test_an_external_entity_is_not_fetched():
    xxe = b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'
    with pytest.raises(Refused):
        parse(xxe, 1000)


def test_too_many_elements_are_refused_when_a_limit_is_given():
    many = b"<a>" + b"<b/>" * 10 + b"</a>"
    assert len(parse(many, 1000)) == 10
    with pytest.raises(Refused, match="more than 5 elements"):
        parse(many, 1000, max_elements=5)


def test_malformed_xml_is_refused_with_the_parsers_reason():
    with pytest.raises(Refused, match="not well-formed"):
        parse(b"<a>", 100)
