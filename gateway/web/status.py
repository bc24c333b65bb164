"""The page the device's PresentationUrl points to: what each scanner is and is doing.

Built with lxml's HTML builder, never by pasting strings. It is handed a
callable that gives typed snapshots (``ScannerPanel``), not the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lxml import etree
from lxml.html import builder as E
from twisted.web import resource

from gateway import __version__
from gateway.announce import AnnouncerStatus
from gateway.model import JobView, ScannerStatus, words

REFRESH_SECONDS = 5


@dataclass(frozen=True)
class ScannerPanel:
    """One scanner as the page shows it."""

    name: str
    device: str
    endpoint: str
    status: ScannerStatus
    sources: tuple[str, ...]
    formats: tuple[str, ...]
    subscriptions: int
    subscribers: tuple[str, ...]
    """The addresses that subscribe to its events."""
    destinations: tuple[str, ...]
    """The push-scan destinations they registered."""
    jobs: tuple[JobView, ...]
    """Active ones first, then the history, newest first."""

    @property
    def subscribers_text(self) -> str:
        if not self.subscriptions:
            return "none (a PC subscribes when it installs the scanner)"
        text = f"{self.subscriptions} from {', '.join(self.subscribers)}"
        return text + (f"; push-scan destinations: {', '.join(self.destinations)}" if self.destinations else "")


class StatusPage(resource.Resource):
    isLeaf = True

    def __init__(self, port: int, panels: Callable[[], list[ScannerPanel]],
                 announcement: Callable[[], AnnouncerStatus | None] = lambda: None):
        super().__init__()
        self.port = port
        self.panels = panels
        self.announcement = announcement
        """The eSCL (mDNS) announcer's state, or None when eSCL is off."""

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return etree.tostring(self.page(), method="html", encoding="utf-8", doctype="<!DOCTYPE html>")

    def page(self):
        sections = [self.scanner_section(p) for p in self.panels()]
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
                E.P(f"Version {__version__}, HTTP port {self.port}."),
                *self.announcement_lines(),
                *sections,
            ),
        )

    def announcement_lines(self) -> list:
        status = self.announcement()
        if status is None:
            return []
        names = ", ".join(sorted(status.names.values()))
        text = f"{status.protocol}: {status.state.value}" + (f" ({names})" if names else "")
        return [E.P(text + (f". {status.detail}" if status.detail else ""))]

    def scanner_section(self, panel: ScannerPanel):
        status = panel.status
        rows = [E.TR(E.TH(k), E.TD(v)) for k, v in (
            ("SANE device", panel.device),
            ("Endpoint", panel.endpoint),
            ("State", f"{status.state.value} ({words(status.reasons)})"),
            ("Sources", ", ".join(panel.sources)),
            ("Formats", ", ".join(panel.formats)),
            ("Subscribers", panel.subscribers_text),
        )]
        conditions = [E.LI(f"{c.name.value} ({c.severity.value}, {c.component.value}) since {c.time:%H:%M:%S}")
                      for c in status.conditions]
        job_rows = [E.TR(E.TD(str(j.id)), E.TD(j.ticket.description.name), E.TD(j.state.value),
                         E.TD(words(j.reasons)), E.TD(str(j.images_done)), E.TD(f"{j.created:%H:%M:%S}"))
                    for j in panel.jobs[:10]]
        return E.DIV(
            E.H2(panel.name),
            E.TABLE(*rows),
            E.H3("Conditions"),
            E.UL(*conditions) if conditions else E.P("None."),
            E.H3("Last jobs"),
            E.TABLE(E.TR(E.TH("Job"), E.TH("Name"), E.TH("State"), E.TH("Reasons"), E.TH("Images"), E.TH("Created")),
                    *job_rows) if job_rows else E.P("No job yet."),
        )
