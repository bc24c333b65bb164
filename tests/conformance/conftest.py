"""The real gateway on SANE's test backend, and a way to check what it sends against our WS-Scan rules.

Set WSCAN_CAPTURE_DIR to a directory to keep every checked body there as a
file (e.g. to validate them against a copy of Microsoft's schema kept
outside the project).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.conformance.wscan_rules import fault_problems, problems
from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.sinks import EventSink, subscribe
from tests.support.soap_client import Reply

SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
SLOW_ENOUGH = "geometry_max 300.0\nread-delay true\nread-delay-duration 22000\n"
ALL_EVENTS = ("ScannerStatusSummaryEvent", "ScannerStatusConditionEvent", "ScannerStatusConditionClearedEvent",
              "JobStatusEvent", "JobEndStateEvent", "ScannerElementsChangeEvent", "ScanAvailableEvent")
_counter = itertools.count(1)


def _keep(label: str, element: etree._Element) -> None:
    where = os.environ.get("WSCAN_CAPTURE_DIR")
    if where:
        name = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        Path(where, f"{next(_counter):03d}-{name}.xml").write_bytes(etree.tostring(element))


def body_of(reply: Reply) -> etree._Element:
    body = reply.xml.find(SOAP + "Body")
    return next(iter(body))


def assert_conforms(label: str, reply_or_body) -> etree._Element:
    """The body follows our WS-Scan rules (a fault: the fault rules); returns it."""
    if isinstance(reply_or_body, Reply):
        envelope = reply_or_body.xml
        element = body_of(reply_or_body)
    else:
        envelope, element = None, reply_or_body
    _keep(label, element)
    if element.tag == SOAP + "Fault":
        found = fault_problems(envelope)
    else:
        found = problems(element)
    assert not found, f"{label}:\n" + "\n".join(found)
    return element


def events_of(sink: EventSink, name: str) -> list[etree._Element]:
    return [etree.fromstring(e["body"]) for e in sink.events if e.get("action", "").endswith("/" + name)]


@pytest.fixture(scope="module")
def switched(tmp_path_factory):
    """A gateway whose test device can be made to jam (write a SANE status into ``switched.jam``),
    with a 2 s RetrieveImage deadline and reads slow enough to watch a job processing."""
    workdir = tmp_path_factory.mktemp("switched")
    jam = workdir / "read-status"
    saved = {k: os.environ.get(k) for k in ("SANE_WSD_TEST_READ_STATUS", "SANE_WSD_TEST_DEADLINE")}
    os.environ.update(SANE_WSD_TEST_READ_STATUS=str(jam), SANE_WSD_TEST_DEADLINE="2")
    try:
        entry = [sys.executable, str(ROOT / "tests" / "support" / "switch_gateway.py")]
        with GatewayProcess(workdir / "gw", test_conf=SLOW_ENOUGH, entry=entry) as gw:
            gw.jam = jam
            yield gw
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def duplex(tmp_path_factory):
    entry = [sys.executable, str(ROOT / "tests" / "support" / "duplex_gateway.py")]
    with GatewayProcess(tmp_path_factory.mktemp("duplex"), entry=entry) as gw:
        yield gw


@pytest.fixture
def sink(switched):
    with EventSink() as s:
        assert subscribe(switched.scan_url, s.url, ALL_EVENTS).status == 200
        yield s
