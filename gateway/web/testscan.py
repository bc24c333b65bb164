"""The status page's test scan: one page scanned through the scanner core, to prove SANE works without Windows.

It drives the core like any other client (``ScannerCore.create_job`` and
``next_document``), so the scanner is busy for everyone else while it runs and
a test scan while a PC scans is refused as busy. The image is written to one
file in the state directory (the last test scan, replaced by the next) and
served from there for the preview and the download.

``POST /test-scan`` takes JSON (so that another web site cannot make a
visitor's browser send one: a cross-site JSON POST needs a preflight we never
allow) and answers JSON; it is the page's only action, and the site's
network policy applies to it as to everything else.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.web import resource, server

from gateway.addresses import client_key
from gateway.image_response import connection_gone, watch_connection
from gateway.model import (
    ColorMode, DocumentParameters, ErrorKind, InputSource, JobDescription, Requested, RequestedSide,
    ScanTicket, ServiceError, Size,
)
from gateway.scanner_api import ScannerCore

log = Logger()

FORMATS = {"png": ("PNG", "png"), "jfif": ("JPEG", "jpg"), "pdf-a": ("PDF", "pdf")}
"""The formats a test scan offers (those the scanner writes): label and file extension."""
MAX_RESOLUTION = 600
"""A test scan proves the scanner works; higher resolutions only make it slow."""
MAX_REQUEST = 4096
STATUS_FOR = {ErrorKind.BUSY: 409, ErrorKind.DEVICE: 503, ErrorKind.NOT_FOUND: 404}


@dataclass(frozen=True)
class ScanChoice:
    scanner: str
    source: InputSource
    mode: ColorMode
    resolution: int
    format: str


@dataclass(frozen=True)
class ScanResult:
    number: int
    scanner: str
    content_type: str
    filename: str
    width: int
    height: int
    size: int
    path: Path


def options(scanner: ScannerCore) -> dict:
    """What the form may offer for one scanner: per source its colour modes and resolutions, and the formats."""
    caps = scanner.capabilities
    sources = {}
    for source in caps.sources():
        side = caps.source(source)
        sources[source.value] = {
            "modes": [c.value for c in side.colors],
            "resolutions": sorted(r for r in set(side.resolutions_x) & set(side.resolutions_y)
                                  if r <= MAX_RESOLUTION) or sorted(side.resolutions_x)[:1],
        }
    formats = [{"value": f, "label": FORMATS[f][0]} for f in FORMATS if f in caps.formats]
    return {"name": scanner.name, "sources": sources, "formats": formats}


class BadRequest(Exception):
    """A test scan request the form could not have sent; the message says what is wrong."""


def parse_request(body: bytes, scanners: Mapping[str, ScannerCore]) -> ScanChoice:
    try:
        given = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request is not JSON") from None
    if not isinstance(given, dict):
        raise BadRequest("the request is not a JSON object")
    uuid = given.get("scanner")
    if not isinstance(uuid, str) or uuid not in scanners:
        raise BadRequest("no such scanner (it may have been unplugged: reload the page)")
    offered = options(scanners[uuid])
    source = offered["sources"].get(given.get("source"))
    if source is None:
        raise BadRequest(f"the scanner has no source {str(given.get('source'))[:40]!r}")
    if given.get("mode") not in source["modes"]:
        raise BadRequest(f"that source has no colour mode {str(given.get('mode'))[:40]!r}")
    resolution = given.get("resolution")
    if isinstance(resolution, str) and resolution.isdigit():
        resolution = int(resolution)
    if not isinstance(resolution, int) or resolution not in source["resolutions"]:
        raise BadRequest(f"that source has no resolution {str(resolution)[:40]!r}")
    fmt = given.get("format", "png")
    if fmt not in (f["value"] for f in offered["formats"]):
        raise BadRequest(f"no format {str(fmt)[:40]!r} for a test scan")
    return ScanChoice(uuid, InputSource(given["source"]), ColorMode(given["mode"]), resolution, fmt)


def ticket_for(request: ScanChoice) -> ScanTicket:
    """One image, exactly as chosen (every value must be honoured: a test scan tests what was picked)."""
    return ScanTicket(
        JobDescription(name="Test scan", user="status page"),
        DocumentParameters(
            format=Requested(request.format, True),
            images_to_transfer=Requested(1, True),
            input_source=Requested(request.source.value, True),
            front=RequestedSide(color=Requested(request.mode.value, True),
                                resolution=Requested(Size(request.resolution, request.resolution), True)),
        ),
    )


def _json(request: server.Request, code: int, value: dict) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(value).encode()


class ScanTest(resource.Resource):
    """``POST /test-scan`` scans; ``GET /test-scan/image`` is the last result (``?download=1``: as a file)."""

    def __init__(self, scanners: Callable[[], Mapping[str, ScannerCore]], spool_dir: str | os.PathLike):
        super().__init__()
        self.scanners = scanners
        self.spool_dir = Path(spool_dir)
        self.last: ScanResult | None = None
        self._numbers = 0
        self.putChild(b"image", _LastImage(self))

    def render_POST(self, request: server.Request):
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype != b"application/json":
            return _json(request, 415, {"error": "a test scan is asked for with JSON, as the page does"})
        peer = client_key(getattr(request.getClientAddress(), "host", "?"))
        scanners = self.scanners()
        try:
            wanted = parse_request(request.content.read(MAX_REQUEST), scanners)
        except BadRequest as e:
            return _json(request, 400, {"error": str(e)})
        scanner = scanners[wanted.scanner]
        watch_connection(request)
        log.info("test scan on {scanner} for {peer}: {source}, {mode}, {dpi} dpi, {file_format}", scanner=scanner.name,
                 peer=peer, source=wanted.source.value, mode=wanted.mode.value, dpi=wanted.resolution,
                 file_format=wanted.format)
        d = self.scan(scanner, wanted, f"status page {peer}")

        def done(result: ScanResult) -> None:
            self._answer(request, 200, {
                "image": f"/test-scan/image?n={result.number}", "download": f"/test-scan/image?n={result.number}"
                "&download=1", "filename": result.filename, "content_type": result.content_type,
                "width": result.width, "height": result.height, "bytes": result.size, "scanner": result.scanner,
                "preview": result.content_type.startswith("image/")})

        def failed(failure) -> None:
            error = failure.value
            if isinstance(error, ServiceError):
                message = ("The scanner is busy with another job (a PC may be scanning): try again when it is "
                           "done." if error.kind is ErrorKind.BUSY else error.reason)
                log.info("test scan on {scanner} failed: {why}", scanner=scanner.name, why=error.reason)
                self._answer(request, STATUS_FOR.get(error.kind, 400), {"error": message, "kind": error.kind.value})
            else:
                log.failure("test scan on {scanner} failed", failure, scanner=scanner.name)
                self._answer(request, 500, {"error": f"the scan failed: {error}"})
        d.addCallbacks(done, failed)
        return server.NOT_DONE_YET

    @staticmethod
    def _answer(request: server.Request, code: int, value: dict) -> None:
        if request.finished or connection_gone(request):
            return
        body = _json(request, code, value)
        request.write(body)
        request.finish()

    @defer.inlineCallbacks
    def scan(self, scanner: ScannerCore, wanted: ScanChoice, owner: str):
        """Scan one image into the spool directory; fires with the ScanResult (ServiceError if refused)."""
        try:  # before the job, so that a full or read-only disk costs the scanner nothing
            handle, temporary = tempfile.mkstemp(prefix=".test-scan-", dir=self.spool_dir)
        except OSError as e:
            raise ServiceError(ErrorKind.DEVICE, f"cannot write the image to {self.spool_dir}: {e.strerror}") from None
        file = os.fdopen(handle, "wb")
        try:
            result = yield self._scan_into(file, scanner, wanted, owner)
        except BaseException:
            file.close()
            _remove(Path(temporary))
            raise
        file.close()
        label, extension = FORMATS[wanted.format]
        path = self.spool_dir / f"test-scan.{extension}"
        os.replace(temporary, path)
        if self.last is not None and self.last.path != path:
            _remove(self.last.path)
        self._numbers += 1
        content_type, info, size = result
        self.last = ScanResult(self._numbers, scanner.name, content_type,
                                   f"test-scan-{self._numbers}.{extension}", info.pixels_per_line, info.lines,
                                   size, path)
        log.info("test scan on {scanner}: {width}x{height} {label}, {size} bytes", scanner=scanner.name,
                 width=info.pixels_per_line, height=info.lines, label=label, size=size)
        return self.last

    @defer.inlineCallbacks
    def _scan_into(self, file, scanner: ScannerCore, wanted: ScanChoice, owner: str):
        job = yield scanner.create_job(ticket_for(wanted), owner=owner)
        try:
            stream = yield scanner.next_document(job.id, job.token, "TestScan")
        except Exception:
            _cancel(scanner, job.id)
            raise
        size = 0
        failed: list[OSError] = []
        finished: defer.Deferred = defer.Deferred()

        def write(data: bytes) -> None:
            nonlocal size
            if failed:
                return
            try:
                file.write(data)
            except OSError as e:  # a full disk: the scan stops, the gateway goes on
                failed.append(e)
                stream.pipe.abort(f"cannot write the image: {e.strerror}")
                return
            size += len(data)
        stream.pipe.attach(write, finished.callback)
        error = yield finished
        if failed:
            raise ServiceError(ErrorKind.DEVICE, f"cannot write the image to {self.spool_dir}: "
                                                 f"{failed[0].strerror}")
        if error is not None:
            raise ServiceError(ErrorKind.DEVICE, f"the scan stopped: {error}")
        if scanner.job(job.id).more_images:
            _cancel(scanner, job.id)
        return stream.content_type, stream.job.image_info.front, size


def _cancel(scanner: ScannerCore, job_id: int) -> None:
    try:
        scanner.cancel(job_id)
    except ServiceError:
        pass


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


class _LastImage(resource.Resource):
    isLeaf = True

    def __init__(self, scans: ScanTest):
        super().__init__()
        self.scans = scans

    def render_GET(self, request: server.Request):
        result = self.scans.last
        try:
            file = open(result.path, "rb") if result is not None else None
        except OSError:
            file = None
        if file is None:
            return _json(request, 404, {"error": "no test scan yet"})
        request.setHeader(b"content-type", result.content_type.encode())
        request.setHeader(b"content-length", str(os.fstat(file.fileno()).st_size).encode())
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        disposition = "attachment" if request.args.get(b"download") else "inline"
        request.setHeader(b"content-disposition", f'{disposition}; filename="{result.filename}"'.encode())
        d = FileSender().beginFileTransfer(file, request)

        def finished(_):
            file.close()
            request.finish()

        def lost(_failure):
            file.close()
        d.addCallbacks(finished, lost)
        request.notifyFinish().addErrback(lambda _f: None)
        return server.NOT_DONE_YET
