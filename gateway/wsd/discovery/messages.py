"""WS-Discovery 2005/04 messages: build and parse them, match Types and Scopes.

Pure functions and data classes without sockets or clocks, kept apart from the
protocol (as ``twisted.names`` keeps ``dns`` apart from its protocols), so that
every rule of the wire format can be tested on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lxml import etree

from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname
from gateway.wsd.soap import MalformedMessage, build_envelope, parse_envelope, serialize

_URI_RULES = frozenset({ns.MATCH_BY_RFC2396, ns.MATCH_BY_RFC3986})


@dataclass(frozen=True)
class AppSequence:
    """Lets receivers order our messages and notice a restart (a new InstanceId)."""

    instance_id: int
    message_number: int


@dataclass(frozen=True)
class Target:
    """What a target service says about itself in Hello, ProbeMatch and ResolveMatch."""

    endpoint: str
    types: tuple[str, ...]
    scopes: tuple[str, ...]
    xaddrs: tuple[str, ...]
    metadata_version: int


@dataclass(frozen=True)
class Probe:
    message_id: str
    types: tuple[str, ...]
    """Clark QNames, resolved with the namespaces in scope on the Types element."""
    scopes: tuple[str, ...]
    match_by: str


@dataclass(frozen=True)
class Resolve:
    message_id: str
    endpoint: str


# --- building ---------------------------------------------------------------

def _qnames_element(parent: etree._Element, tag: str, names: tuple[str, ...]) -> None:
    """A list of QNames as text; prefixes the envelope lacks are declared on the element."""
    in_scope = {uri: prefix for prefix, uri in parent.nsmap.items() if prefix}
    extra: dict[str, str] = {}
    for name in names:
        uri = etree.QName(name).namespace
        if uri and uri not in in_scope and uri not in extra.values():
            extra[f"t{len(extra)}"] = uri
    el = etree.SubElement(parent, tag, nsmap=extra) if extra else etree.SubElement(parent, tag)
    prefixes = {**in_scope, **{uri: prefix for prefix, uri in extra.items()}}
    words = []
    for name in names:
        q = etree.QName(name)
        words.append(f"{prefixes[q.namespace]}:{q.localname}" if q.namespace else q.localname)
    el.text = " ".join(words)


def _target_body(tag: str, target: Target, parent: etree._Element) -> etree._Element:
    el = etree.SubElement(parent, qname(ns.WSD, tag))
    epr = etree.SubElement(el, qname(ns.WSA, "EndpointReference"))
    etree.SubElement(epr, qname(ns.WSA, "Address")).text = target.endpoint
    if target.types:
        _qnames_element(el, qname(ns.WSD, "Types"), target.types)
    if target.scopes:
        etree.SubElement(el, qname(ns.WSD, "Scopes")).text = " ".join(target.scopes)
    if target.xaddrs:
        etree.SubElement(el, qname(ns.WSD, "XAddrs")).text = " ".join(target.xaddrs)
    etree.SubElement(el, qname(ns.WSD, "MetadataVersion")).text = str(target.metadata_version)
    return el


def _envelope(action: str, to: str, seq: AppSequence, relates_to: str | None = None) -> etree._Element:
    env = build_envelope(action, None, to=to, relates_to=relates_to)
    app_sequence = etree.SubElement(env.find(qname(ns.SOAP, "Header")), qname(ns.WSD, "AppSequence"))
    app_sequence.set("InstanceId", str(seq.instance_id))
    app_sequence.set("MessageNumber", str(seq.message_number))
    return env


def _body(env: etree._Element) -> etree._Element:
    return env.find(qname(ns.SOAP, "Body"))


def build_hello(target: Target, seq: AppSequence) -> bytes:
    env = _envelope(ns.HELLO_ACTION, ns.DISCOVERY_URN, seq)
    _target_body("Hello", target, _body(env))
    return serialize(env)


def build_bye(endpoint: str, seq: AppSequence) -> bytes:
    """Only the endpoint: receivers forget the device by its address alone."""
    env = _envelope(ns.BYE_ACTION, ns.DISCOVERY_URN, seq)
    bye = etree.SubElement(_body(env), qname(ns.WSD, "Bye"))
    epr = etree.SubElement(bye, qname(ns.WSA, "EndpointReference"))
    etree.SubElement(epr, qname(ns.WSA, "Address")).text = endpoint
    return serialize(env)


def build_probe_matches(target: Target, seq: AppSequence, relates_to: str) -> bytes:
    """One match per message: each device answers for itself, as separate target services do."""
    env = _envelope(ns.PROBE_MATCHES_ACTION, ns.ANONYMOUS, seq, relates_to)
    matches = etree.SubElement(_body(env), qname(ns.WSD, "ProbeMatches"))
    _target_body("ProbeMatch", target, matches)
    return serialize(env)


def build_resolve_matches(target: Target, seq: AppSequence, relates_to: str) -> bytes:
    env = _envelope(ns.RESOLVE_MATCHES_ACTION, ns.ANONYMOUS, seq, relates_to)
    matches = etree.SubElement(_body(env), qname(ns.WSD, "ResolveMatches"))
    _target_body("ResolveMatch", target, matches)
    return serialize(env)


# --- parsing ----------------------------------------------------------------

def parse_qnames(el: etree._Element) -> tuple[str, ...]:
    """QName list text -> Clark names, by the namespaces in scope on ``el`` itself.

    Windows declares prefixes in unusual places (on Types, on Probe); lxml's
    ``nsmap`` holds every declaration in scope, wherever it was made.
    """
    names = []
    for word in (el.text or "").split():
        prefix, _, local = word.rpartition(":")
        uri = el.nsmap.get(prefix or None)
        if prefix and uri is None:
            raise MalformedMessage(f"undeclared prefix {prefix!r} in {etree.QName(el).localname}")
        names.append(qname(uri, local) if uri else local)
    return tuple(names)


def parse_message(data: bytes) -> Probe | Resolve | None:
    """A Probe or Resolve; None for any other action (other devices' Hello, matches).

    Raises ``MalformedMessage`` (a ``SoapFault``) for bytes that are not a usable message.
    """
    env = parse_envelope(data)
    if env.action not in (ns.PROBE_ACTION, ns.RESOLVE_ACTION):
        return None
    if not env.message_id:
        raise MalformedMessage("no wsa:MessageID")
    body = env.body
    if env.action == ns.PROBE_ACTION:
        if body is None or body.tag != qname(ns.WSD, "Probe"):
            raise MalformedMessage("Probe action without a wsd:Probe body")
        types_el = body.find(qname(ns.WSD, "Types"))
        scopes_el = body.find(qname(ns.WSD, "Scopes"))
        return Probe(
            message_id=env.message_id,
            types=parse_qnames(types_el) if types_el is not None else (),
            scopes=tuple((scopes_el.text or "").split()) if scopes_el is not None else (),
            match_by=(scopes_el.get("MatchBy") if scopes_el is not None else None) or ns.MATCH_BY_RFC2396,
        )
    if body is None or body.tag != qname(ns.WSD, "Resolve"):
        raise MalformedMessage("Resolve action without a wsd:Resolve body")
    address = body.findtext(f"{qname(ns.WSA, 'EndpointReference')}/{qname(ns.WSA, 'Address')}")
    if not address or not address.strip():
        raise MalformedMessage("Resolve without an endpoint address")
    return Resolve(message_id=env.message_id, endpoint=address.strip())


# --- matching ---------------------------------------------------------------

def types_match(wanted: tuple[str, ...], offered: tuple[str, ...]) -> bool:
    """Every type asked for must be offered; asking for none matches everything."""
    return set(wanted) <= set(offered)


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return [unquote(s) for s in stripped.split("/")] if stripped else []


def _uri_scope_match(wanted: str, offered: str) -> bool:
    """Scheme and authority equal ignoring case; the path a segment-wise prefix."""
    w, o = urlsplit(wanted), urlsplit(offered)
    if w.scheme.lower() != o.scheme.lower() or w.netloc.lower() != o.netloc.lower():
        return False
    ws, os_ = _segments(w.path), _segments(o.path)
    if any(s in (".", "..") for s in ws + os_):
        return False
    return os_[: len(ws)] == ws


def _uuid(value: str) -> uuid.UUID | None:
    for prefix in ("urn:uuid:", "uuid:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix):]
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _scope_match(wanted: str, offered: str, match_by: str) -> bool:
    if match_by in _URI_RULES:
        return _uri_scope_match(wanted, offered)
    if match_by == ns.MATCH_BY_STRCMP0:
        return wanted == offered
    if match_by == ns.MATCH_BY_UUID:
        w = _uuid(wanted)
        return w is not None and w == _uuid(offered)
    return False


def scopes_match(wanted: tuple[str, ...], offered: tuple[str, ...], match_by: str = ns.MATCH_BY_RFC2396) -> bool:
    """Every scope asked for must match one offered; an unknown rule matches nothing."""
    return all(any(_scope_match(w, o, match_by) for o in offered) for w in wanted)


def probe_matches(probe: Probe, target: Target) -> bool:
    return types_match(probe.types, target.types) and scopes_match(probe.scopes, target.scopes, probe.match_by)
