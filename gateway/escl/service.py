"""One scanner as an eSCL (AirScan) device: its REST resource, its jobs' URLs, what it announces.

Paths under the scanner's root (``/<uuid>/eSCL``, and ``/eSCL`` for the first
scanner, for clients that hard-code that path)::

    GET    ScannerCapabilities            from a cache: never opens the scanner
    GET    ScannerStatus                  state, feeder, this front end's jobs
    POST   ScanJobs                       ScanSettings -> 201 Created, Location = the job's absolute URL
    GET    ScanJobs/<id>/NextDocument     the next image, streamed while it is scanned; 404 once none is left
    GET    ScanJobs/<id>/ScanImageInfo    the size of the job's images
    PUT    ScanBufferInfo                 ScanSettings -> the image they would give (no scan, no device access)
    DELETE ScanJobs/<id>                  cancel: 200, or 404 for a job that ended or never was
    GET    ScannerIcon                    the icon (PNG)

Every refusal is an HTTP status with its reason as text/plain, logged in one
line starting ``eSCL:``; the core's error kinds become statuses in one place
(``errors.refusal``). A job's id is a random UUID: its URL is all a client
needs to fetch or cancel it, so it must not be guessable.
"""

from __future__ import annotations

import collections
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server

from gateway.http_origin import base_url as host_base, client_of as peer_of
from gateway.announce import AnnouncedScanner
from gateway.escl import formats
from gateway.escl.capabilities import scanner_capabilities
from gateway.escl.errors import (
    NotFound, RequestRefused, TooLarge, clip, refusal,
)
from gateway.icon import CONTENT_TYPE as ICON_TYPE, icon_png
from gateway.escl.settings import parse_scan_settings
from gateway.escl import namespaces as ns
from gateway.escl.status import (
    JobEntry, adf_state, scan_buffer_info, scan_image_info, scanner_state, scanner_status,
)
from gateway.escl.xml import MAX_DOCUMENT_BYTES, parse, serialize
from gateway.image_response import connection_gone, cut_off, spool_image, stream_image, watch_connection
from gateway.model import (
    ConditionName, JobDescription, JobView, Requested, ScannerStatus, ScanTicket, ServiceError,
)
from gateway.scanner_api import ImageStream, ScannerCore

log = Logger()

XML_TYPE = b"text/xml"
MAX_JOBS = 32
"""Jobs whose URLs are remembered (the newest); the core's own history is shorter."""
MAX_CACHED_HOSTS = 16
"""Capabilities documents kept, one per address clients reach us by (the URIs in them name it)."""
ICON_PATH = "ScannerIcon"
PAPER_PROBLEMS = frozenset({ConditionName.MEDIA_JAM, ConditionName.MULTIPLE_FEED_ERROR, ConditionName.COVER_OPEN})


@dataclass(frozen=True)
class EsclJob:
    """A job created through eSCL: the id in its URL, and what fetches its images from the core."""

    id: str
    core_id: int
    token: str
    mime: str
    """The document format the client asked for: every image goes out with exactly this Content-Type."""


def root_path(request: server.Request) -> str:
    """The path of the eSCL root this request came in under (``/<uuid>/eSCL`` or ``/eSCL``)."""
    return "/" + "/".join(p.decode("ascii", "replace") for p in request.prepath)


class EsclScanner:
    """One scanner's eSCL front end. It listens to the core only to know when its description changes."""

    def __init__(self, scanner: ScannerCore, *, image_transfer: str = "chunked", spool_dir: str | None = None,
                 on_description_change: Callable[["EsclScanner"], None] = lambda escl: None):
        self.scanner = scanner
        self.image_transfer = image_transfer
        self.spool_dir = spool_dir
        self._on_description_change = on_description_change
        self.jobs: collections.OrderedDict[str, EsclJob] = collections.OrderedDict()
        self._capabilities: dict[str, bytes] = {}
        self.resource = EsclResource(self)
        self._stop_listening = scanner.listen(self)

    @property
    def uuid(self) -> str:
        return self.scanner.identity.uuid

    def announced(self) -> AnnouncedScanner:
        """What is said of this scanner in its capabilities and its mDNS record."""
        identity, caps = self.scanner.identity, self.scanner.capabilities
        return AnnouncedScanner(uuid=identity.uuid, name=self.scanner.name, manufacturer=identity.vendor,
                                model=identity.model, serial=identity.serial, location=caps.location,
                                capabilities=caps)

    # ------------------------------------------------------------ ScannerListener

    def job_changed(self, job: JobView) -> None:
        pass

    def status_changed(self, old: ScannerStatus, new: ScannerStatus) -> None:
        pass

    def description_changed(self) -> None:
        self._capabilities.clear()
        self._on_description_change(self)

    def close(self) -> None:
        self._stop_listening()

    # ------------------------------------------------------------ documents

    def capabilities_document(self, base: str, root: str) -> bytes:
        """ScannerCapabilities with URIs on ``base``, built once per address and kept until the description changes."""
        key = f"{base}{root}"
        data = self._capabilities.get(key)
        if data is None:
            data = serialize(scanner_capabilities(self.announced(), admin_uri=f"{base}/",
                                                  icon_uri=f"{base}{root}/{ICON_PATH}"))
            if len(self._capabilities) < MAX_CACHED_HOSTS:
                self._capabilities[key] = data
        return data

    def status_document(self, root: str) -> bytes:
        status = self.scanner.status()
        active = self.scanner.active_jobs()
        entries = []
        for job in reversed(self.jobs.values()):
            try:
                view = self.scanner.job(job.core_id)
            except ServiceError:
                continue  # gone from the core's history
            entries.append(JobEntry(f"{root}/ScanJobs/{job.id}", job.id, view))
        has_feeder = self.scanner.capabilities.adf_front is not None
        adf = adf_state(status, feeder_empty=any(j.feeder_empty for j in active)) if has_feeder else None
        return serialize(scanner_status(status, entries, adf, state=scanner_state(status, bool(active))))

    def paper_problem(self) -> bool:
        return any(c.name in PAPER_PROBLEMS for c in self.scanner.status().conditions)

    def remember(self, job: JobView, mime: str) -> EsclJob:
        entry = EsclJob(str(uuidlib.uuid4()), job.id, job.token, mime)
        self.jobs[entry.id] = entry
        while len(self.jobs) > MAX_JOBS:
            self.jobs.popitem(last=False)
        return entry

    def find(self, job_id: str) -> EsclJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def ticket_for(self, ticket: ScanTicket) -> tuple[ScanTicket, str]:
        """The ticket with an eSCL format in it (PNG when none was asked), and that format's MIME type."""
        params = ticket.parameters
        if params.format is None:
            offered = formats.offered(self.scanner.capabilities.formats)
            if not offered:
                raise refusal(ServiceError("format", "this scanner offers no eSCL document format"))
            chosen = next((f for f in offered if f.mime == "image/png"), offered[0])
            params = replace(params, format=Requested(chosen.core, must_honor=True))
        fmt = next(f for f in formats.FORMATS if f.core == params.format.value)
        return replace(ticket, parameters=params), fmt.mime


class EsclResource(resource.Resource):
    """The scanner's eSCL root; every path below it is dispatched here."""

    isLeaf = True

    def __init__(self, escl: EsclScanner):
        super().__init__()
        self.escl = escl

    def render(self, request: server.Request):
        path = [p.decode("ascii", "replace") for p in request.postpath]
        while path and path[-1] == "":
            path.pop()
        method = request.method.decode("ascii", "replace")
        watch_connection(request)
        d = defer.maybeDeferred(self._dispatch, method, path, request)
        d.addCallback(self._answered, request)
        d.addErrback(self._failed, method, request)
        return server.NOT_DONE_YET

    def _dispatch(self, method: str, path: list[str], request: server.Request):
        routes = {
            ("GET", ("ScannerCapabilities",)): self.capabilities,
            ("GET", ("ScannerStatus",)): self.status,
            ("POST", ("ScanJobs",)): self.create_job,
            ("GET", (ICON_PATH,)): self.icon,
            ("PUT", ("ScanBufferInfo",)): self.buffer_info,
        }
        handler = routes.get((method, tuple(path)))
        if handler is not None:
            return handler(request)
        if len(path) >= 2 and path[0] == "ScanJobs":
            job_routes = {
                ("DELETE", 2): self.cancel_job,
                ("GET", 3, "NextDocument"): self.next_document,
                ("GET", 3, "ScanImageInfo"): self.image_info,
            }
            key = (method, len(path)) + ((path[2],) if len(path) == 3 else ())
            handler = job_routes.get(key)
            if handler is not None:
                return handler(request, self.escl.find(path[1]))
        if any((m, tuple(path)) in routes for m in ("GET", "POST", "PUT")) or (path[:1] == ["ScanJobs"]):
            request.setHeader(b"allow", b"GET, POST, PUT, DELETE")
            raise MethodNotAllowed(f"{method} is not allowed on /{'/'.join(path)}")
        raise NotFound(f"no eSCL resource /{clip('/'.join(path), 80)}")

    # ------------------------------------------------------------ answers

    @staticmethod
    def _answered(result, request: server.Request) -> None:
        if result is None or request.finished or connection_gone(request):
            return  # answered already (an image), or nobody left to answer
        code, content_type, body = result
        request.setResponseCode(code)
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"content-length", str(len(body)).encode())
        request.write(body)
        request.finish()

    def _failed(self, failure, method: str, request: server.Request) -> None:
        error = failure.value
        if isinstance(error, ServiceError):
            error = refusal(error, self.escl.paper_problem())
        if not isinstance(error, RequestRefused):
            log.failure("eSCL: internal error answering {method} {path} from {peer}", failure, method=method,
                        path=request.path.decode("ascii", "replace"), peer=peer_of(request))
            error = _Internal("internal error")
        log.info("eSCL: {method} {path} from {peer}: {status} {reason}", method=method,
                 path=clip(request.path.decode("ascii", "replace"), 120), peer=peer_of(request),
                 status=int(error.status), reason=error.reason)
        if request.finished or connection_gone(request):
            return
        if request.startedWriting:
            cut_off(request)
            return
        self._answered((int(error.status), b"text/plain; charset=utf-8", (error.reason + "\n").encode()), request)

    # ------------------------------------------------------------ operations

    def capabilities(self, request):
        return 200, XML_TYPE, self.escl.capabilities_document(host_base(request), root_path(request))

    def status(self, request):
        return 200, XML_TYPE, self.escl.status_document(root_path(request))

    def icon(self, request):
        return 200, ICON_TYPE.encode(), icon_png()

    @staticmethod
    def _settings_body(request) -> bytes | None:
        """The ScanSettings a request carries (None: the request refused it itself, 413, before reading it)."""
        if getattr(request, "too_large", False):
            return None
        body = request.content.read(MAX_DOCUMENT_BYTES + 1)
        if len(body) > MAX_DOCUMENT_BYTES:
            raise TooLarge(f"the ScanSettings are larger than {MAX_DOCUMENT_BYTES} bytes")
        return body

    def buffer_info(self, request):
        body = self._settings_body(request)
        if body is None:
            return None
        ticket, _mime = self.escl.ticket_for(parse_scan_settings(body))
        final, info = self.escl.scanner.validate(ticket)
        document = scan_buffer_info(parse(body, ns.scan("ScanSettings")), info.front, final.front.color)
        return 200, XML_TYPE, serialize(document)

    @defer.inlineCallbacks
    def create_job(self, request):
        body = self._settings_body(request)
        if body is None:
            return None
        ticket, mime = self.escl.ticket_for(parse_scan_settings(body))
        peer = peer_of(request)
        ticket = replace(ticket, description=JobDescription(name="eSCL scan", user=peer))
        view = yield self.escl.scanner.create_job(ticket, owner=peer)
        job = self.escl.remember(view, mime)
        if connection_gone(request):
            log.info("eSCL: {peer} left before job {job} was created: cancelling it", peer=peer, job=view.id)
            self.escl.scanner.cancel(view.id)
            return None
        location = f"{host_base(request)}{root_path(request)}/ScanJobs/{job.id}"
        log.info("eSCL: job {job} ({id}) created for {peer}", job=view.id, id=job.id, peer=peer)
        request.setHeader(b"location", location.encode())
        return 201, b"text/plain; charset=utf-8", b""

    @defer.inlineCallbacks
    def next_document(self, request, job: EsclJob):
        stream: ImageStream = yield self.escl.scanner.next_document(job.core_id, job.token)
        peer = peer_of(request)
        if connection_gone(request):
            stream.pipe.stopProducing()
            log.info("eSCL: image of job {job} not sent: {peer} went away before it started", job=job.core_id,
                     peer=peer)
            return None
        headers = {b"content-type": job.mime.encode()}
        what = f"eSCL image of job {job.core_id}"
        if self.escl.image_transfer == "length":
            spool_image(request, stream.pipe, b"", b"", headers, what, self.escl.spool_dir)
        else:
            stream_image(request, stream.pipe, b"", b"", headers, what, peer)
        return None

    def image_info(self, request, job: EsclJob):
        view = self.escl.scanner.job(job.core_id)
        entry = JobEntry(f"{root_path(request)}/ScanJobs/{job.id}", job.id, view)
        return 200, XML_TYPE, serialize(scan_image_info(entry, view.image_info.front))

    def cancel_job(self, request, job: EsclJob):
        self.escl.scanner.cancel(job.core_id)
        log.info("eSCL: job {job} cancelled by {peer}", job=job.core_id, peer=peer_of(request))
        return 200, b"text/plain; charset=utf-8", b""


class MethodNotAllowed(RequestRefused):
    status = 405


class _Internal(RequestRefused):
    status = 500


class FirstScanner(resource.Resource):
    """``/eSCL``: the first scanner's eSCL root, for clients that know no other path (VueScan, SANE's escl)."""

    isLeaf = True

    def __init__(self, first: Callable[[], EsclScanner | None]):
        super().__init__()
        self.first = first

    def render(self, request):
        escl = self.first()
        if escl is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no eSCL scanner is served\n"
        return escl.resource.render(request)
