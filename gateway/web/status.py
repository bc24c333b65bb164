"""The page the device's PresentationUrl points to: is the scanner found, installed, working, and if not, why.

Built with lxml's HTML builder, never by pasting strings, so every name a
device or a client gives is escaped. It is handed callables that give typed
snapshots (``ScannerPanel``, ``diagnostics.Diagnostics``), never the gateway.

- ``/``: the whole page (works without a script; with one, its live part
  follows the gateway without a reload);
- ``/live``: that live part alone, polled by ``static/status.js``;
- ``/status.json``: the same facts for programs;
- ``/static/``: the page's style sheet and script (no CDN: the Pi may have no internet);
- ``/test-scan``: the test scan (``testscan.py``), the page's only action.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree
from lxml.builder import ElementMaker
from lxml.html import html_parser
from twisted.web import resource, static

from gateway import __version__
from gateway.activity import Sighting
from gateway.icon import CONTENT_TYPE as ICON_TYPE, icon_png
from gateway.model import JobView, ScannerStatus, words
from gateway.web.diagnostics import Diagnostics, ScannerSigns, checklist
from gateway.web.testscan import ScanTest, options

class _Html:
    """``E.SECTION(...)``: lxml's HTML element maker with every HTML5 element (lxml.html.builder lacks some)."""

    _make = ElementMaker(makeelement=html_parser.makeelement)

    def __getattr__(self, tag: str):
        return getattr(self._make, tag.lower())


E = _Html()
STATIC = Path(__file__).resolve().parent / "static"
POLL_SECONDS = 3
"""How often the page's script asks for the live part."""


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
    uuid: str = ""
    last_fetch: Sighting | None = None
    """The last client that read its device description (the first sign that Windows found it)."""

    @property
    def subscribers_text(self) -> str:
        if not self.subscriptions:
            return "none (a PC subscribes when it installs the scanner)"
        text = f"{self.subscriptions} from {', '.join(self.subscribers)}"
        return text + (f"; push-scan destinations: {', '.join(self.destinations)}" if self.destinations else "")

    @property
    def state_text(self) -> str:
        reasons = [r for r in self.status.reasons if r.value != "none"]
        return self.status.state.value + (f" ({words(reasons)})" if reasons else "")

    def signs(self) -> ScannerSigns:
        return ScannerSigns(self.name, self.last_fetch, self.subscriptions)


def _time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone() if value.tzinfo else value
    return f"{local:%H:%M:%S}"


def _sighting(seen: Sighting | None, never: str) -> str:
    return never if seen is None else f"{_time(seen.time)} from {seen.peer}"


def _cells(*values: str, header: bool = False):
    cell = E.TH if header else E.TD
    return E.TR(*[cell(v) for v in values])


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]):
    return E.TABLE(E.CAPTION(caption), E.THEAD(_cells(*head, header=True)),
                   E.TBODY(*[_cells(*row) for row in rows]))


def _facts(caption: str, rows: Sequence[tuple[str, str]]):
    """A two-column table: a name (row header) and its value."""
    return E.TABLE(E.CAPTION(caption), E.TBODY(*[E.TR(E.TH(k, scope="row"), E.TD(v)) for k, v in rows]),
                   **{"class": "facts"})


class StatusPage(resource.Resource):
    def __init__(self, port: int, panels: Callable[[], list[ScannerPanel]],
                 diagnostics: Callable[[], Diagnostics] | None = None, test_scans: ScanTest | None = None):
        super().__init__()
        self.port = port
        self.panels = panels
        self.diagnostics = diagnostics or (lambda: Diagnostics(port=port, discovery=False, interfaces=()))
        self.test_scans = test_scans
        self.putChild(b"live", _Part(self.live_bytes, b"text/html; charset=utf-8", quiet=True))
        self.putChild(b"status.json", _Part(self.json_bytes, b"application/json; charset=utf-8"))
        self.putChild(b"static", _Static(str(STATIC)))
        self.putChild(b"favicon.ico", _Part(icon_png, ICON_TYPE.encode(), quiet=True))
        if test_scans is not None:
            self.putChild(b"test-scan", test_scans)

    def getChild(self, path, request):
        return resource.NoResource("No such page: the status page is at /")

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        _no_store(request)
        return etree.tostring(self.page(), method="html", encoding="utf-8", doctype="<!DOCTYPE html>")

    # ------------------------------------------------------------ the page

    def page(self):
        panels = self.panels()
        return E.HTML(
            E.HEAD(
                E.META(charset="utf-8"),
                E.META(name="viewport", content="width=device-width, initial-scale=1"),
                E.TITLE("sane-wsd-gateway: scanner status"),
                E.LINK(rel="stylesheet", href="/static/page.css"),
                E.SCRIPT(src="/static/status.js", defer="defer"),
                E.NOSCRIPT(E.META(**{"http-equiv": "refresh", "content": "10"})),
            ),
            E.BODY(
                E.HEADER(E.H1("sane-wsd-gateway"),
                         E.P(f"Version {__version__}, HTTP port {self.port}. ", E.SPAN(
                             "Updated ", E.SPAN(_time(datetime.now()), id="updated"), ".",
                             **{"class": "updated"}))),
                E.MAIN(
                    self.live(panels),
                    self.test_scan_section(),
                ),
                **{"data-poll-seconds": str(POLL_SECONDS)},
            ),
            lang="en",
        )

    def live(self, panels: list[ScannerPanel] | None = None):
        """The part of the page that follows the gateway: the checklist, the network, every scanner."""
        panels = self.panels() if panels is None else panels
        d = self.diagnostics()
        return E.DIV(
            self.checklist_section(d, panels),
            self.network_section(d),
            self.announcers_section(d),
            self.scanners_section(panels),
            id="live",
        )

    def live_bytes(self) -> bytes:
        return etree.tostring(self.live(), method="html", encoding="utf-8")

    def checklist_section(self, d: Diagnostics, panels: list[ScannerPanel]):
        todo = checklist(d, [p.signs() for p in panels])
        body = E.UL(*[E.LI(t) for t in todo], id="checklist") if todo else E.P(
            "Every sign is there: a PC looked for scanners, read each scanner's description and installed it.",
            id="checklist", **{"class": "ok"})
        return E.SECTION(E.H2("What to check", id="check-heading"), body,
                         **{"aria-labelledby": "check-heading", "class": "todo" if todo else "done"})

    def network_section(self, d: Diagnostics):
        discovery = ("on: the gateway answers PCs that look for scanners (WS-Discovery, UDP port 3702)"
                     if d.discovery else "off (discovery = no): PCs will not find the scanner by themselves")
        facts = [("Discovery", discovery),
                 ("Clients served", "this machine's networks" + (f" and {', '.join(d.allowed_networks)}"
                                                                  if d.allowed_networks else ""))]
        interfaces = [(i.name, (", ".join(i.addresses) or "no address") + (
                           f"; not announced: {', '.join(i.not_announced)} (see the log)" if i.not_announced else ""),
                       _sighting(i.last_probe, "none yet") if d.discovery else "discovery is off")
                      for i in d.interfaces]
        refused = [(r.peer, r.local, r.reason, str(r.count), _time(r.time)) for r in d.refusals]
        return E.SECTION(
            E.H2("Network", id="network-heading"),
            _facts("How PCs reach the gateway", facts),
            _table("Interfaces", ("Interface", "Addresses announced" if d.discovery else "Addresses",
                                  "Last probe (a PC looking for scanners)"),
                   interfaces) if interfaces else E.P("No served interface has an address."),
            E.H3("Clients refused"),
            _table("Clients refused", ("Client", "Reached at", "Why", "Times", "Last"), refused)
            if refused else E.P("None.", id="refused-none"),
            **{"aria-labelledby": "network-heading"})

    def announcers_section(self, d: Diagnostics):
        if d.announcers is None:
            body = E.P("Not available in this gateway.")
        elif not d.announcers:
            body = E.P("None running.")
        else:
            body = _table("Announcers", ("Protocol", "State", "Detail"),
                          [(a.protocol, a.state.value, a.detail) for a in d.announcers])
        return E.SECTION(E.H2("eSCL / AirScan (Mac, phones, Linux)", id="escl-heading"), body,
                         **{"aria-labelledby": "escl-heading"})

    def scanners_section(self, panels: list[ScannerPanel]):
        if not panels:
            return E.SECTION(E.H2("Scanners"), E.P("No scanner is being served. Check that SANE sees one: "
                                                   "scanimage -L"))
        return E.SECTION(E.H2("Scanners", id="scanners-heading"), *[self.scanner_panel(p) for p in panels],
                         **{"aria-labelledby": "scanners-heading"})

    def scanner_panel(self, panel: ScannerPanel):
        rows = [
            ("SANE device", panel.device),
            ("Endpoint", panel.endpoint),
            ("State", panel.state_text),
            ("Sources", ", ".join(panel.sources)),
            ("Formats", ", ".join(panel.formats)),
            ("Last description read", _sighting(panel.last_fetch, "never (a PC reads it when it finds the scanner)")),
            ("Subscribers", panel.subscribers_text),
        ]
        status = panel.status
        conditions = [E.LI(f"{c.name.value} ({c.severity.value}, {c.component.value}) since {_time(c.time)}")
                      for c in status.conditions]
        jobs = [(str(j.id), j.ticket.description.name, j.state.value, words(j.reasons), str(j.images_done),
                 _time(j.created)) for j in panel.jobs[:10]]
        return E.ARTICLE(
            E.H3(panel.name),
            _facts(f"{panel.name}: what it is", rows),
            E.H4("Conditions"),
            E.UL(*conditions) if conditions else E.P("None."),
            E.H4("Last jobs"),
            _table(f"{panel.name}: last jobs", ("Job", "Name", "State", "Reasons", "Images", "Created"), jobs)
            if jobs else E.P("No job yet."),
            **{"class": "scanner", "data-uuid": panel.uuid},
        )

    def test_scan_section(self):
        heading = E.H2("Test scan", id="scan-heading")
        scanners = self.test_scans.scanners() if self.test_scans is not None else {}
        if not scanners:
            return E.SECTION(heading, E.P("No scanner to test."), **{"aria-labelledby": "scan-heading"})
        offered = {uuid: options(s) for uuid, s in scanners.items()}
        first = next(iter(offered.values()))
        first_source = next(iter(first["sources"].values()), {"modes": [], "resolutions": []})

        def select(name: str, label: str, values: Sequence[tuple[str, str]], chosen: str | None = None):
            return E.DIV(
                E.LABEL(label, **{"for": f"scan-{name}"}),
                E.SELECT(*[E.OPTION(text, value=value, **({"selected": "selected"} if value == chosen else {}))
                           for value, text in values], id=f"scan-{name}", name=name),
                **{"class": "field"})

        resolutions = first_source["resolutions"]
        default_dpi = str(min(resolutions, key=lambda r: abs(r - 150))) if resolutions else None
        modes = first_source["modes"]
        form = E.FORM(
            select("scanner", "Scanner", [(u, o["name"]) for u, o in offered.items()]),
            select("source", "Source", [(s, s) for s in first["sources"]]),
            select("mode", "Colour mode", [(m, m) for m in modes], "RGB24" if "RGB24" in modes else None),
            select("resolution", "Resolution (dpi)", [(str(r), str(r)) for r in resolutions], default_dpi),
            select("format", "File format", [(f["value"], f["label"]) for f in first["formats"]]),
            E.DIV(E.BUTTON("Scan", type="submit", id="scan-button"), **{"class": "field"}),
            id="scan-form", method="post", action="/test-scan",
            **{"data-options": json.dumps(offered)},
        )
        return E.SECTION(
            heading,
            E.P("Scans one page here, without Windows: if this works, SANE and the scanner do."),
            form,
            E.P("", id="scan-status", role="status", **{"aria-live": "polite"}),
            E.FIGURE(E.IMG(id="scan-preview", alt="Preview of the test scan"),
                     E.FIGCAPTION(E.A("Download the scan", id="scan-download", href="#")),
                     id="scan-result", hidden="hidden"),
            **{"aria-labelledby": "scan-heading"},
        )

    # ------------------------------------------------------------ for programs

    def snapshot(self) -> dict:
        d, panels = self.diagnostics(), self.panels()

        def seen(s: Sighting | None):
            return None if s is None else {"time": s.time.isoformat(), "peer": s.peer}
        return {
            "version": __version__,
            "port": self.port,
            "checklist": checklist(d, [p.signs() for p in panels]),
            "discovery": d.discovery,
            "allowed_networks": list(d.allowed_networks),
            "interfaces": [{"name": i.name, "addresses": list(i.addresses), "last_probe": seen(i.last_probe),
                            "not_announced": list(i.not_announced)} for i in d.interfaces],
            "refused": [{"peer": r.peer, "local": r.local, "reason": r.reason, "count": r.count,
                         "last": r.time.isoformat()} for r in d.refusals],
            "announcers": None if d.announcers is None else [
                {"protocol": a.protocol, "state": a.state.value, "detail": a.detail} for a in d.announcers],
            "scanners": [{
                "uuid": p.uuid, "name": p.name, "device": p.device, "endpoint": p.endpoint,
                "state": p.status.state.value, "reasons": [r.value for r in p.status.reasons],
                "conditions": [c.name.value for c in p.status.conditions],
                "sources": list(p.sources), "formats": list(p.formats),
                "last_metadata_fetch": seen(p.last_fetch),
                "subscriptions": p.subscriptions, "subscribers": list(p.subscribers),
                "destinations": list(p.destinations),
                "jobs": [{"id": j.id, "name": j.ticket.description.name, "state": j.state.value,
                          "reasons": [r.value for r in j.reasons], "images": j.images_done,
                          "created": j.created.isoformat()} for j in p.jobs[:10]],
            } for p in panels],
        }

    def json_bytes(self) -> bytes:
        return json.dumps(self.snapshot(), indent=1).encode()


def _no_store(request) -> None:
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"content-security-policy",
                      b"default-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'")


def not_access_logged(request) -> None:
    """The page's own polling and its static files: the site leaves them out of the access log
    (an open page would otherwise write a line every few seconds to the journal)."""
    request.access_logged = False


class _Part(resource.Resource):
    isLeaf = True

    def __init__(self, render: Callable[[], bytes], content_type: bytes, quiet: bool = False):
        super().__init__()
        self.render_bytes = render
        self.content_type = content_type
        self.quiet = quiet

    def render_GET(self, request):
        if self.quiet:
            not_access_logged(request)
        request.setHeader(b"content-type", self.content_type)
        _no_store(request)
        return self.render_bytes()


class _Static(static.File):
    """The style sheet and script; no directory listings."""

    def render_GET(self, request):
        not_access_logged(request)
        return super().render_GET(request)

    def directoryListing(self):
        return resource.NoResource()
