"""Event sinks as subprocesses, and WS-Eventing requests built like Windows builds them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from lxml import etree

from gateway.wsd import namespaces as ns
from tests.support.gateway_process import free_port
from tests.support.soap_client import envelope, post

HERE = Path(__file__).resolve().parent
WINDOWS_CONTEXTS = ("Scan", "ScanToPrint", "ScanToEmail", "ScanToFax", "ScanToOCR")


class EventSink:
    def __init__(self, mode: str = "ok"):
        self.port = free_port()
        self.mode = mode
        self.events: list[dict] = []
        self._cond = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sink"

    def __enter__(self) -> "EventSink":
        self.proc = subprocess.Popen([sys.executable, str(HERE / "event_sink.py"), "--port", str(self.port),
                                      "--mode", self.mode], stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        assert '"ready"' in first, first
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def actions(self) -> list[str]:
        return [e.get("action", "").rsplit("/", 1)[-1] for e in self.events]

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def subscribe(service_url: str, notify_to: str, events: tuple[str, ...], expires: str | None = None,
              destinations: tuple[tuple[str, str], ...] = (), end_to: str | None = None,
              identifier_param: str | None = None, dialect: str = ns.DPWS_ACTION_FILTER_DIALECT,
              source: str | None = None):
    """A Subscribe as Windows sends it: Push delivery, DPWS action filter, optional ScanDestinations."""
    E = lambda n, l: ns.qname(n, l)  # noqa: E731
    body = etree.Element(E(ns.WSE, "Subscribe"), nsmap={"wse": ns.WSE, "wsa": ns.WSA, "wscn": ns.WSCN})
    if end_to:
        etree.SubElement(etree.SubElement(body, E(ns.WSE, "EndTo")), E(ns.WSA, "Address")).text = end_to
    delivery = etree.SubElement(body, E(ns.WSE, "Delivery"))
    delivery.set("Mode", ns.WSE + "/DeliveryModes/Push")
    notify = etree.SubElement(delivery, E(ns.WSE, "NotifyTo"))
    etree.SubElement(notify, E(ns.WSA, "Address")).text = notify_to
    if identifier_param:
        params = etree.SubElement(notify, E(ns.WSA, "ReferenceParameters"))
        etree.SubElement(params, E(ns.WSE, "Identifier")).text = identifier_param
    if expires:
        etree.SubElement(body, E(ns.WSE, "Expires")).text = expires
    f = etree.SubElement(body, E(ns.WSE, "Filter"))
    f.set("Dialect", dialect)
    f.text = " ".join(ns.scan_action(e) if "/" not in e else e for e in events)
    if destinations:
        ds = etree.SubElement(body, E(ns.WSCN, "ScanDestinations"))
        for name, context in destinations:
            d = etree.SubElement(ds, E(ns.WSCN, "ScanDestination"))
            etree.SubElement(d, E(ns.WSCN, "ClientDisplayName")).text = name
            etree.SubElement(d, E(ns.WSCN, "ClientContext")).text = context
    return post(service_url, envelope(ns.SUBSCRIBE_ACTION, body, service_url), source=source)


def manage(reply, action: str, local: str, expires: str | None = None, source: str | None = None):
    """Renew / GetStatus / Unsubscribe through the SubscriptionManager the SubscribeResponse named."""
    manager = reply.xml.find(f".//{ns.qname(ns.WSE, 'SubscriptionManager')}")
    address = manager.findtext(ns.qname(ns.WSA, "Address"))
    identifier = manager.findtext(f"{ns.qname(ns.WSA, 'ReferenceParameters')}/{ns.qname(ns.WSE, 'Identifier')}")
    body = etree.Element(ns.qname(ns.WSE, local), nsmap={"wse": ns.WSE})
    if expires:
        etree.SubElement(body, ns.qname(ns.WSE, "Expires")).text = expires
    env = etree.fromstring(envelope(action, body, address))
    etree.SubElement(env.find(ns.qname(ns.SOAP, "Header")), ns.qname(ns.WSE, "Identifier"),
                     nsmap={"wse": ns.WSE}).text = identifier
    return post(address, etree.tostring(env), source=source)
