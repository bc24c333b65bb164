"""The page the device's PresentationUrl points to: what each scanner is and is doing.

Built with lxml's HTML builder, never by pasting strings.
"""

from __future__ import annotations

from lxml import etree
from lxml.html import builder as E
from twisted.web import resource

from gateway import __version__
from gateway.model import words

REFRESH_SECONDS = 5


class StatusPage(resource.Resource):
    isLeaf = True

    def __init__(self, gateway):
        super().__init__()
        self.gateway = gateway

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return etree.tostring(self.page(), method="html", encoding="utf-8", doctype="<!DOCTYPE html>")

    def page(self):
        sections = [self.scanner_section(s) for s in self.gateway.scanners.values()]
        if not sections:
            sections = [E.P("No scanner is being served. Check that SANE sees one: scanimage -L")]
        return E.HTML(
            E.HEAD(
                E.META(charset="utf-8"),
                E.META(**{"http-equiv": "refresh", "content": str(REFRESH_SECONDS)}),
                E.TITLE("sane-wsd-gateway"),
            ),
            E.BODY(
                E.H1("sane-wsd-gateway"),
                E.P(f"Version {__version__}, HTTP port {self.gateway.settings.port}."),
                *sections,
            ),
        )

    def subscribers(self, uuid: str) -> str:
        events = self.gateway.events.get(uuid)
        if events is None or not events.subscriptions:
            return "none (a PC subscribes when it installs the scanner)"
        peers = sorted({s.peer for s in events.subscriptions.values()})
        names = sorted({d.display_name for _s, d in events.destinations()})
        text = f"{len(events.subscriptions)} from {', '.join(peers)}"
        return text + (f"; push-scan destinations: {', '.join(names)}" if names else "")

    def scanner_section(self, scanner):
        status = scanner.scanner_status()
        caps = scanner.capabilities
        sources = ", ".join(s.value for s in caps.sources())
        rows = [E.TR(E.TH(k), E.TD(v)) for k, v in (
            ("SANE device", scanner.info.name),
            ("Endpoint", f"urn:uuid:{scanner.uuid}"),
            ("State", f"{status.state.value} ({words(status.reasons)})"),
            ("Sources", sources),
            ("Formats", ", ".join(caps.formats)),
            ("Subscribers", self.subscribers(scanner.uuid)),
        )]
        conditions = [E.LI(f"{c.name.value} ({c.severity.value}, {c.component.value}) since {c.time:%H:%M:%S}")
                      for c in status.conditions]
        jobs = scanner.active_jobs() + scanner.job_history()
        job_rows = [E.TR(E.TD(str(j.id)), E.TD(j.ticket.description.name), E.TD(j.state.value),
                         E.TD(words(j.reasons)), E.TD(str(j.scans_completed)), E.TD(f"{j.created:%H:%M:%S}"))
                    for j in jobs[:10]]
        return E.DIV(
            E.H2(scanner.name),
            E.TABLE(*rows),
            E.H3("Conditions"),
            E.UL(*conditions) if conditions else E.P("None."),
            E.H3("Last jobs"),
            E.TABLE(E.TR(E.TH("Job"), E.TH("Name"), E.TH("State"), E.TH("Reasons"), E.TH("Images"), E.TH("Created")),
                    *job_rows) if job_rows else E.P("No job yet."),
        )
