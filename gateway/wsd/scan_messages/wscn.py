"""WS-Scan's XML conventions, for every section's parser and builder: the one helper they share.

Every element is ``wscn:``-qualified, but only the three global attributes
(``MustHonor``, ``Override``, ``UsedDefault``) are; ``Name``, ``Valid`` and
``Id`` are local attributes and go out unprefixed. Enumerated values are the
schema's keywords (``vocabulary.keyword``). On input both attribute forms are
accepted, and values are read strictly by type (a non-number where a number
belongs is ``InvalidArgs``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from lxml import etree

from gateway.model import Requested, Size
from gateway.wsd import namespaces as ns
from gateway.wsd.soap import invalid_args
from gateway.wsd.vocabulary import keyword


W = ns.WSCN
BOOL = {"true": True, "1": True, "false": False, "0": False}


def q(local: str) -> str:
    return ns.qname(W, local)


def element(local: str) -> etree._Element:
    """A wscn element that starts a body or an element's content."""
    return etree.Element(q(local), nsmap={"wscn": W})


GLOBAL_ATTRIBUTES = ("MustHonor", "Override", "UsedDefault")
"""The only attributes the schema declares globally, hence the only ones written ``wscn:``-qualified."""

STRING127 = 127
STRING255 = 255
"""Most WS-Scan strings are limited to 255 characters, the scanner's description to 127."""

MAX_TEXT_LENGTH = STRING255
"""Characters in a client string we keep or show (JobName, JobOriginatingUserName, JobInformation,
DocumentName): the WS-Scan schema's String255. Longer is InvalidArgs, never stored."""


def text_value(v) -> str:
    return keyword(v) if isinstance(v, enum.Enum) else str(v)


def sub(parent: etree._Element, local: str, text=None, **attrs) -> etree._Element:
    """A wscn child; ``attrs`` are local attributes (unprefixed), except the schema's global ones."""
    el = etree.SubElement(parent, q(local))
    if text is not None:
        el.text = text_value(text)
    for k, v in attrs.items():
        el.set(q(k) if k in GLOBAL_ATTRIBUTES else k, v)
    return el


def limited(text: str, limit: int = STRING255) -> str:
    """A string as long as the schema lets it be (a client's long job name is cut, not echoed invalid)."""
    return text if len(text) <= limit else text[:limit]


def sub_list(parent: etree._Element, container: str, item: str, values) -> etree._Element:
    """A container element with one child per value: FormatsSupported/FormatValue and the like."""
    el = sub(parent, container)
    for v in values:
        sub(el, item, v)
    return el


def attr(el: etree._Element, local: str) -> str | None:
    return el.get(q(local), el.get(local))


def time_text(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def bool_text(v: bool) -> str:
    return "true" if v else "false"


def find(parent: etree._Element | None, *path: str) -> etree._Element | None:
    el = parent
    for local in path:
        if el is None:
            return None
        el = el.find(q(local))
    return el


def must_honor(el: etree._Element) -> bool:
    value = attr(el, "MustHonor")
    if value is None:
        return False
    if value.strip() not in BOOL:
        raise invalid_args(f"MustHonor must be a boolean, not {value!r}")
    return BOOL[value.strip()]


def integer(el: etree._Element, what: str) -> int:
    text = (el.text or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise invalid_args(f"{what} must be an integer, not {text!r}") from None
    if abs(value) > 2**31:
        raise invalid_args(f"{what} is out of range")
    return value


def req_int(parent, *path, inherit: bool = False) -> Requested[int] | None:
    el = find(parent, *path)
    if el is None:
        return None
    return Requested(integer(el, path[-1]), must_honor(el) or inherit)


def req_text(parent, *path) -> Requested[str] | None:
    el = find(parent, *path)
    if el is None:
        return None
    return Requested((el.text or "").strip(), must_honor(el))


def req_size(el: etree._Element | None, what: str, mh: bool = False) -> Requested[Size] | None:
    if el is None:
        return None
    w = el.find(q("Width"))
    h = el.find(q("Height"))
    if w is None:
        raise invalid_args(f"{what} needs a Width")
    width = integer(w, f"{what} Width")
    height = integer(h, f"{what} Height") if h is not None else width
    return Requested(Size(width, height), mh or must_honor(el))


def bounded(text: str, what: str) -> str:
    """A client string we keep or show, refused (never cut and stored) when the schema would not allow it."""
    if len(text) > MAX_TEXT_LENGTH:
        raise invalid_args(f"{what} is longer than {MAX_TEXT_LENGTH} characters")
    return text
