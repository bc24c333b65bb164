"""XML from the network, read by one hardened parser: for every front end (WSD's SOAP, eSCL's settings).

No DTD, no entities, no network access, no huge trees; comments and
processing instructions dropped. A document must be small (and, when asked,
of few elements) before anything reads it. Each front end turns ``Refused``
into its own answer (a SOAP fault, an HTTP 400).
"""

from __future__ import annotations

from lxml import etree

PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class Refused(ValueError):
    """Bytes that are not a document we read; the message says why, in a line."""


def parse(data: bytes, max_bytes: int, max_elements: int | None = None) -> etree._Element:
    """The root element of ``data``, or ``Refused``: too large, not well-formed, a DTD, too many elements."""
    if len(data) > max_bytes:
        raise Refused(f"the document is larger than {max_bytes} bytes")
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as e:
        raise Refused(f"not well-formed XML: {e}") from None
    if root.getroottree().docinfo.doctype:
        raise Refused("document type declarations are not accepted")
    if max_elements is not None:
        for count, _el in enumerate(root.iter(), 1):
            if count > max_elements:
                raise Refused(f"the document has more than {max_elements} elements")
    return root
