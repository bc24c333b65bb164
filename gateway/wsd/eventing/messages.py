"""WS-Eventing 2004/08 on the wire: what a Subscribe, Renew or GetStatus says, and what we answer.

Pure functions of XML and typed values; the store, the delivery and the
HTTP client are modules of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from lxml import etree

from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import SoapFault, build_envelope, sender_fault

MAX_EXPIRY = 3600
"""Seconds a subscription lasts at most (and when the client names no expiry); Windows renews."""
MAX_ADDRESS_LENGTH = 1024
"""Characters in a NotifyTo/EndTo address (Windows sends about 80)."""
MAX_REFERENCE_BYTES = 4096
"""Serialized ReferenceParameters kept per address; they travel with every event."""
MAX_FILTER_ACTIONS = 32

PUSH_MODE = ns.WSE + "/DeliveryModes/Push"
STATUS_SHUTTING_DOWN = ns.WSE + "/SourceShuttingDown"
STATUS_DELIVERY_FAILURE = ns.WSE + "/DeliveryFailure"
STATUS_CANCELLING = ns.WSE + "/SourceCancelling"

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def unable(why: str) -> SoapFault:
    """The fault for a Subscribe we cannot serve as asked (a Sender fault: the client can fix it)."""
    return sender_fault(ns.WSE, "EventSourceUnableToProcess", why)


def parse_duration(text: str) -> float:
    """xs:duration -> seconds (years and months at 365 and 30 days: only an order of magnitude matters)."""
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT"):
        raise ValueError(text)
    y, mo, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return ((y * 365 + mo * 30 + d) * 24 + h) * 3600 + mi * 60 + s


def format_duration(seconds: float) -> str:
    return f"PT{int(seconds)}S"


def requested_lifetime(el: etree._Element | None) -> float:
    """The lifetime an Expires asks for, in seconds, capped at MAX_EXPIRY; absent means our maximum."""
    if el is None or not (el.text or "").strip():
        return MAX_EXPIRY
    text = el.text.strip()
    try:
        if text.startswith("P"):
            seconds = parse_duration(text)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = when.timestamp() - datetime.now(timezone.utc).timestamp()
    except ValueError:
        raise sender_fault(ns.WSE, "InvalidExpirationTime", f"cannot read the expiry {text!r}") from None
    if seconds <= 0:
        raise sender_fault(ns.WSE, "InvalidExpirationTime", "the expiry lies in the past")
    return min(seconds, MAX_EXPIRY)


@dataclass(frozen=True)
class EndpointRef:
    address: str
    reference_parameters: tuple[etree._Element, ...] = ()
    host: str = ""
    port: int = 80

    @classmethod
    def parse(cls, el: etree._Element | None) -> EndpointRef | None:
        if el is None:
            return None
        what = etree.QName(el).localname
        address = (el.findtext(qname(ns.WSA, "Address")) or "").strip()
        host, port = _http_host(address, what)
        params = el.find(qname(ns.WSA, "ReferenceParameters"))
        kept = tuple(_copy(p) for p in params if isinstance(p.tag, str)) if params is not None else ()
        if sum(len(etree.tostring(p)) for p in kept) > MAX_REFERENCE_BYTES:
            raise unable(f"the ReferenceParameters of {what} exceed {MAX_REFERENCE_BYTES} bytes")
        return cls(address, kept, host, port)

    def headers(self) -> list[etree._Element]:
        """Reference parameters travel back as header blocks of their own (WS-Addressing 2004/08)."""
        return [_copy(p) for p in self.reference_parameters]


def _http_host(address: str, what: str) -> tuple[str, int]:
    """The host and port of an http:// event address, or the Sender fault that says what is wrong."""
    def refuse(why: str) -> SoapFault:
        return unable(f"{what}: {why}")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise refuse(f"the address is longer than {MAX_ADDRESS_LENGTH} characters")
    if not address.isascii() or not address.isprintable() or " " in address:
        raise refuse("the address must be a plain ASCII http:// URL")
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise refuse(f"cannot read the address {address!r} ({e})") from None
    if parts.scheme.lower() != "http":
        raise refuse("events are sent to http:// addresses only")
    if not host:
        raise refuse(f"the address {address!r} names no host")
    if "@" in parts.netloc:
        raise refuse("the address may not carry a user name")
    if port == 0:
        raise refuse("port 0 is not a port")
    return unquote(host), port or 80


def _copy(el: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(el))


def matches(action: str, wanted: str) -> bool:
    """An action a filter entry names: itself, or one below it."""
    return action == wanted or action.startswith(wanted.rstrip("/") + "/")


def filter_actions(filter_el: etree._Element | None, offered: frozenset[str]) -> tuple[str, ...] | None:
    """The actions a Subscribe's Filter asks for (None: every event), each of them one we offer."""
    if filter_el is None:
        return None
    dialect = filter_el.get("Dialect", ns.DPWS_ACTION_FILTER_DIALECT)
    if dialect != ns.DPWS_ACTION_FILTER_DIALECT:
        raise sender_fault(ns.WSE, "FilteringRequestedUnavailable", f"filter dialect {dialect} is not supported")
    actions: list[str] = []
    tokens = list(dict.fromkeys((filter_el.text or "").split()))
    if len(tokens) > MAX_FILTER_ACTIONS:
        raise unable(f"the Filter names more than {MAX_FILTER_ACTIONS} events")
    for token in tokens:
        action = token if "/" in token else f"{ns.WSCN}/{token}"
        if not any(matches(o, action) for o in offered):
            raise SoapFault("Sender", qname(ns.WSDP, "FilterActionNotSupported"),
                            f"no event {action} is offered", detail=action)
        if action not in actions:
            actions.append(action)
    return tuple(actions) or None


@dataclass(frozen=True)
class SubscribeRequest:
    notify_to: EndpointRef
    end_to: EndpointRef | None
    actions: tuple[str, ...] | None
    lifetime: float


def parse_subscribe(body: etree._Element, offered: frozenset[str]) -> SubscribeRequest:
    """A Subscribe body, or the fault that says what is wrong with it."""
    delivery = body.find(qname(ns.WSE, "Delivery"))
    if delivery is None:
        raise unable("Subscribe has no Delivery")
    mode = delivery.get("Mode", PUSH_MODE)
    if mode != PUSH_MODE:
        raise sender_fault(ns.WSE, "DeliveryModeRequestedUnavailable", f"delivery mode {mode} is not supported")
    notify_to = EndpointRef.parse(delivery.find(qname(ns.WSE, "NotifyTo")))
    if notify_to is None:
        raise unable("Delivery has no NotifyTo")
    end_to = EndpointRef.parse(body.find(qname(ns.WSE, "EndTo")))
    actions = filter_actions(body.find(qname(ns.WSE, "Filter")), offered)
    return SubscribeRequest(notify_to, end_to, actions, requested_lifetime(body.find(qname(ns.WSE, "Expires"))))


def _manager(parent: etree._Element, manager_address: str, identifier: str) -> None:
    manager = etree.SubElement(parent, qname(ns.WSE, "SubscriptionManager"))
    etree.SubElement(manager, qname(ns.WSA, "Address")).text = manager_address
    params = etree.SubElement(manager, qname(ns.WSA, "ReferenceParameters"))
    etree.SubElement(params, qname(ns.WSE, "Identifier")).text = identifier


def _with_expires(local: str, seconds: float) -> etree._Element:
    el = etree.Element(qname(ns.WSE, local), nsmap=ns.NSMAP)
    etree.SubElement(el, qname(ns.WSE, "Expires")).text = format_duration(seconds)
    return el


def subscribe_response(manager_address: str, identifier: str, lifetime: float) -> etree._Element:
    resp = etree.Element(qname(ns.WSE, "SubscribeResponse"), nsmap=ns.NSMAP)
    _manager(resp, manager_address, identifier)
    etree.SubElement(resp, qname(ns.WSE, "Expires")).text = format_duration(lifetime)
    return resp


def renew_response(lifetime: float) -> etree._Element:
    return _with_expires("RenewResponse", lifetime)


def get_status_response(left: float) -> etree._Element:
    return _with_expires("GetStatusResponse", left)


def subscription_end(end_to: EndpointRef, manager_address: str, identifier: str, status: str,
                     reason: str) -> etree._Element:
    """The SubscriptionEnd envelope to a subscriber's EndTo."""
    body = etree.Element(qname(ns.WSE, "SubscriptionEnd"), nsmap=ns.NSMAP)
    _manager(body, manager_address, identifier)
    etree.SubElement(body, qname(ns.WSE, "Status")).text = status
    text = etree.SubElement(body, qname(ns.WSE, "Reason"))
    text.set(qname(ns.XML, "lang"), "en")
    text.text = reason
    return build_envelope(ns.SUBSCRIPTION_END_ACTION, body, to=end_to.address, extra_headers=end_to.headers())


def event(notify_to: EndpointRef, action: str, body: etree._Element) -> etree._Element:
    """An event's envelope to a subscriber's NotifyTo."""
    return build_envelope(action, body, to=notify_to.address, extra_headers=notify_to.headers())


def subscription_identifier(env) -> str | None:
    """The wse:Identifier a Renew, GetStatus or Unsubscribe carries in its header."""
    ident = env.header_element(ns.WSE, "Identifier")
    return (ident.text or "").strip() if ident is not None else None
