"""twisted.web resources: one per device, requests dispatched by their WS-Addressing Action.

Every failure becomes the SOAP fault the WSD Scan pages name, logged once,
with a non-2xx status; nothing a client sends reaches another job.
"""

from __future__ import annotations

from typing import Any, Callable

from lxml import etree
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server

from gateway.addresses import client_key, is_loopback
from gateway.http_origin import base_url as _host_base, client_of as _peer
from gateway.image_response import connection_gone, cut_off, spool_image, stream_image, watch_connection
from gateway.model import ServiceError
from gateway.scanner_api import ScannerCore
from gateway.wsd import namespaces as ns
from gateway.wsd.scan_messages import elements, jobs, tickets, wscn
from gateway.wsd.eventing import EventSource
from gateway.wsd.faults import fault_for
from gateway.wsd.metadata import DeviceMetadata, get_response
from gateway.wsd.mtom import MtomMessage
from gateway.wsd.push import PushScans, read_destinations
from gateway.wsd.soap import (
    MAX_BODY_BYTES, Envelope, SoapFault, build_envelope, build_fault, clip, invalid_args, parse_envelope,
    receiver_fault, sender_fault, serialize,
)

log = Logger()

SOAP_CONTENT_TYPE = b"application/soap+xml; charset=utf-8"
MAX_GONE = 32
"""Devices that went away whose URLs still answer why (a fault, not the status page)."""

class LimitedRequest(server.Request):
    """Refuses a body larger than MAX_BODY_BYTES before reading it (HTTP 413),
    and a client the site's ``policy`` does not serve (HTTP 403)."""

    too_large = False

    def process(self):
        policy = getattr(self.channel.site, "policy", None)
        peer = getattr(self.getClientAddress(), "host", "")
        local = getattr(self.getHost(), "host", "")
        if policy is not None and policy.refusal(client_key(peer), client_key(local)) is not None:
            log.info("refused {peer} (reached at {local}): not on a served network", peer=peer, local=local)
            self.setResponseCode(403)
            self.setHeader(b"content-type", b"text/plain")
            self.write(b"this scanner serves its local network only\n")
            self.finish()
            return
        super().process()

    def gotLength(self, length):
        if length is not None and length > MAX_BODY_BYTES:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.too_large:
            return
        if self.content is not None and self.content.tell() + len(data) > MAX_BODY_BYTES:
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self):
        self.too_large = True
        log.warn("refused a request body over {limit} bytes from {peer}", limit=MAX_BODY_BYTES,
                 peer=self.channel.transport.getPeer())
        self.channel.transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.channel.transport.loseConnection()


class DeviceResource(resource.Resource):
    """``/<uuid>`` (device: metadata) and ``/<uuid>/scan`` (the scan service): both answer both."""

    isLeaf = True

    def __init__(self, scanner: ScannerCore, metadata: Callable[[], DeviceMetadata], events: EventSource,
                 push: PushScans, image_transfer: str = "chunked", spool_dir: str | None = None,
                 on_metadata_fetch: Callable[[str], None] = lambda peer: None):
        super().__init__()
        self.on_metadata_fetch = on_metadata_fetch  # told the client of each metadata Get (the status page)
        self.scanner = scanner
        self.metadata = metadata
        self.events = events
        self.push = push
        self.image_transfer = image_transfer  # "chunked" (stream while scanning) or "length" (spool first)
        self.spool_dir = spool_dir
        self.handlers: dict[str, Callable[[Envelope, server.Request], Any]] = {
            ns.GET_ACTION: self.transfer_get,
            ns.SUBSCRIBE_ACTION: self.subscribe,
            ns.RENEW_ACTION: self.renew,
            ns.GET_STATUS_ACTION: self.get_status,
            ns.UNSUBSCRIBE_ACTION: self.unsubscribe,
            ns.scan_action("GetScannerElements"): self.get_scanner_elements,
            ns.scan_action("ValidateScanTicket"): self.validate_scan_ticket,
            ns.scan_action("CreateScanJob"): self.create_scan_job,
            ns.scan_action("RetrieveImage"): self.retrieve_image,
            ns.scan_action("CancelJob"): self.cancel_job,
            ns.scan_action("GetJobElements"): self.get_job_elements,
            ns.scan_action("GetActiveJobs"): self.get_active_jobs,
            ns.scan_action("GetJobHistory"): self.get_job_history,
        }

    def render_GET(self, request):
        request.redirect(b"/")
        return b""

    def render_POST(self, request):
        if getattr(request, "too_large", False):
            return b""
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in (b"application/soap+xml", b"text/xml", b"application/xml"):
            log.info("refused {peer}: content type {ctype!r} is not SOAP", peer=request.getClientAddress(),
                     ctype=ctype.decode("latin-1"))
            request.setResponseCode(415)
            return b"SOAP 1.2 (application/soap+xml) expected\n"
        body = request.content.read(MAX_BODY_BYTES + 1)
        watch_connection(request)
        d = defer.maybeDeferred(self._dispatch, body, request)
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    def _dispatch(self, body: bytes, request: server.Request):
        request.envelope = None
        env = parse_envelope(body)
        request.envelope = env
        handler = self.handlers.get(env.action)
        if handler is None:
            raise SoapFault("Sender", ns.qname(ns.WSA, "ActionNotSupported"),
                            f"the action {env.action} is not supported", detail=env.action)
        if env.body is None and env.action not in (ns.GET_ACTION, ns.GET_STATUS_ACTION, ns.UNSUBSCRIBE_ACTION,
                                                   ns.RENEW_ACTION):
            raise invalid_args("the Body is empty")
        return handler(env, request)

    def _failed(self, failure, request: server.Request):
        error = failure.value
        if isinstance(error, ServiceError):
            fault = fault_for(error)
        elif isinstance(error, SoapFault):
            fault = error
        else:
            log.failure("internal error while answering {peer}", failure, peer=request.getClientAddress())
            fault = receiver_fault(ns.WSCN, "ServerErrorInternalError", "internal error")
        env = getattr(request, "envelope", None)
        action = clip(env.action.rsplit("/", 1)[-1], 80) if env else "request"
        log.info("{action} from {peer}: fault {subcode}: {reason}", action=action, peer=_peer(request),
                 subcode=etree.QName(fault.subcode).localname, reason=fault.reason)
        if request.finished or connection_gone(request):
            return
        if request.startedWriting:
            cut_off(request)
            return
        self._reply(request, build_fault(fault, env.message_id if env else None), fault.http_status)

    def _reply(self, request: server.Request, envelope: etree._Element, code: int = 200) -> None:
        if connection_gone(request):
            return
        data = serialize(envelope)
        request.setResponseCode(code)
        request.setHeader(b"content-type", SOAP_CONTENT_TYPE)
        request.setHeader(b"content-length", str(len(data)).encode())
        request.write(data)
        request.finish()

    def _respond(self, env: Envelope, request: server.Request, operation: str, body: etree._Element) -> None:
        reply = build_envelope(ns.scan_response_action(operation), body, relates_to=env.message_id)
        self._reply(request, reply)

    # ------------------------------------------------------------ operations

    def transfer_get(self, env: Envelope, request):
        base = _host_base(request)
        meta = self.metadata()
        log.info("metadata of {name} fetched by {peer}", name=meta.friendly_name, peer=_peer(request))
        self.on_metadata_fetch(_peer(request))
        body = get_response(meta, f"{base}/", self.service_url(request))
        self._reply(request, build_envelope(ns.GET_RESPONSE_ACTION, body, relates_to=env.message_id))

    def get_scanner_elements(self, env: Envelope, request):
        d = self.scanner
        makers = {
            ns.qname(ns.WSCN, "ScannerDescription"): lambda: elements.scanner_description(d.capabilities),
            ns.qname(ns.WSCN, "ScannerConfiguration"): lambda: elements.scanner_configuration(d.capabilities),
            ns.qname(ns.WSCN, "ScannerStatus"): lambda: elements.scanner_status(d.status()),
            ns.qname(ns.WSCN, "DefaultScanTicket"): lambda: tickets.default_scan_ticket(d.default_parameters),
        }
        names = elements.parse_requested_names(env.body)
        if not names:
            raise invalid_args("RequestedElements names no element")
        self._respond(env, request, "GetScannerElements",
                      elements.elements_response("GetScannerElements", "ScannerElements", names, makers))

    def validate_scan_ticket(self, env: Envelope, request):
        ticket = tickets.parse_ticket(env.body.find(wscn.q("ScanTicket")))
        final, info = self.scanner.validate(ticket)
        corrected = final if _needs_correction(final) else None
        self._respond(env, request, "ValidateScanTicket",
                      tickets.validate_response(corrected is None, info, corrected, ticket))

    def service_url(self, request) -> str:
        return f"{_host_base(request)}/{self.scanner.identity.uuid}/scan"

    @defer.inlineCallbacks
    def subscribe(self, env: Envelope, request):
        peer = _peer(request)
        sub, body, destinations = yield self.events.subscribe(
            env, peer, self.service_url(request), extension=lambda b: read_destinations(b, peer))
        self.push.register(sub, destinations, body)
        self._reply(request, build_envelope(ns.SUBSCRIBE_RESPONSE_ACTION, body, relates_to=env.message_id))

    def renew(self, env: Envelope, request):
        self._reply(request, build_envelope(ns.RENEW_RESPONSE_ACTION, self.events.renew(env),
                                            relates_to=env.message_id))

    def get_status(self, env: Envelope, request):
        self._reply(request, build_envelope(ns.GET_STATUS_RESPONSE_ACTION, self.events.get_status(env),
                                            relates_to=env.message_id))

    def unsubscribe(self, env: Envelope, request):
        self._reply(request, build_envelope(ns.UNSUBSCRIBE_RESPONSE_ACTION, self.events.unsubscribe(env),
                                            relates_to=env.message_id))

    @defer.inlineCallbacks
    def create_scan_job(self, env: Envelope, request):
        identifier, token = jobs.parse_push_identifiers(env.body)
        if identifier is not None:
            destination = self.push.check(identifier, token)
        ticket = tickets.parse_ticket(env.body.find(wscn.q("ScanTicket")))
        job = yield self.scanner.create_job(ticket, owner=_peer(request))
        if identifier is not None:
            self.push.used(identifier)
            log.info("push scan for {dest} started by {peer}", dest=destination.display_name, peer=_peer(request))
        self._respond(env, request, "CreateScanJob",
                      jobs.create_job_response(job.id, job.token, job.image_info, job.final))

    @defer.inlineCallbacks
    def retrieve_image(self, env: Envelope, request):
        job_id = jobs.parse_job_id(env.body)
        token = jobs.parse_job_token(env.body)
        name = jobs.parse_document_name(env.body)
        transfer = yield self.scanner.next_document(job_id, token, name)
        mtom = MtomMessage(transfer.content_type)
        soap = serialize(build_envelope(ns.scan_response_action("RetrieveImage"),
                                        jobs.retrieve_image_response(mtom.image_id), relates_to=env.message_id))
        if connection_gone(request):
            transfer.pipe.stopProducing()
            log.info("image of job {job} not sent: {peer} went away before it started", job=job_id,
                     peer=_peer(request))
            return
        headers = {b"content-type": mtom.content_type.encode(), b"mime-version": b"1.0"}
        what = f"image of job {job_id}"
        if self.image_transfer == "length":
            spool_image(request, transfer.pipe, mtom.head(soap), mtom.tail(), headers, what, self.spool_dir)
        else:
            stream_image(request, transfer.pipe, mtom.head(soap), mtom.tail(), headers, what, _peer(request))

    def cancel_job(self, env: Envelope, request):
        # The client that created a job may cancel it, and so may this machine's own tools; to anyone
        # else another client's job does not exist (the schema has no "not yours" fault).
        peer = _peer(request)
        self.scanner.cancel(jobs.parse_job_id(env.body), owner=None if is_loopback(peer) else peer)
        self._respond(env, request, "CancelJob", jobs.empty_response("CancelJob"))

    def get_job_elements(self, env: Envelope, request):
        job = self.scanner.job(jobs.parse_job_id(env.body))
        makers = {
            ns.qname(ns.WSCN, "JobStatus"): lambda: jobs.job_status(job),
            ns.qname(ns.WSCN, "ScanTicket"): lambda: tickets.scan_ticket(job.ticket, job.final),
            ns.qname(ns.WSCN, "Documents"): lambda: jobs.documents(job),
            # The schema's keyword for the job element names is "Document"; the element it gets is Documents.
            ns.qname(ns.WSCN, "Document"): lambda: jobs.documents(job),
        }
        names = elements.parse_requested_names(env.body)
        self._respond(env, request, "GetJobElements",
                      elements.elements_response("GetJobElements", "JobElements", names, makers))

    def get_active_jobs(self, env: Envelope, request):
        self._respond(env, request, "GetActiveJobs",
                      jobs.job_summaries("GetActiveJobs", "ActiveJobs", self.scanner.active_jobs()))

    def get_job_history(self, env: Envelope, request):
        self._respond(env, request, "GetJobHistory",
                      jobs.job_summaries("GetJobHistory", "JobHistory", self.scanner.job_history()))


def _needs_correction(final) -> bool:
    """A ticket is valid as sent when nothing had to be overridden."""
    used = [final.format, final.compression_quality, final.images_to_transfer, final.input_source,
            final.content_type, final.brightness, final.contrast, final.sharpness, final.scaling, final.rotation]
    sides = [s for s in (final.front, final.back) if s is not None]
    return any(u.override for u in used) or any(
        s.region_override or s.color_override or s.resolution_override for s in sides)


class RootResource(resource.Resource):
    """Routes ``/<uuid>[/scan]`` to its device; a POST to ``/`` goes by ``wsa:To``."""

    def __init__(self, status_page: resource.Resource | None = None):
        super().__init__()
        self.devices: dict[str, DeviceResource] = {}
        self.gone: dict[str, str] = {}
        """Devices no longer served (a scanner unplugged), and why: their clients get a fault, not a page."""
        self.status_page = status_page

    def add(self, uuid: str, device_resource: DeviceResource) -> None:
        self.devices[uuid] = device_resource
        self.gone.pop(uuid, None)

    def remove(self, uuid: str, why: str | None = None) -> None:
        """No longer served; with ``why``, its URLs answer a fault that says so (until it comes back)."""
        self.devices.pop(uuid, None)
        if why is not None:
            self.gone[uuid] = why
            while len(self.gone) > MAX_GONE:
                self.gone.pop(next(iter(self.gone)))

    def getChild(self, path: bytes, request):
        key = path.decode("ascii", "replace")
        if key.startswith("urn:uuid:"):
            key = key[len("urn:uuid:"):]
        if key in self.devices:
            return self.devices[key]
        if key in self.gone:
            return _Gone(self.gone[key])
        if path == b"" and request.method == b"POST":
            return _ByAddress(self)
        if self.status_page is not None:
            return self.status_page.getChildWithDefault(path, request) if path else self.status_page
        return resource.NoResource()

    def render_GET(self, request):
        return self.status_page.render_GET(request) if self.status_page else b""


class _Gone(resource.Resource):
    """A device that was served and went away (unplugged): a SOAP request to it gets a fault that says so."""

    isLeaf = True

    def __init__(self, why: str):
        super().__init__()
        self.why = why

    def render_GET(self, request):
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return f"this scanner is no longer served: {self.why}\n".encode()

    def render_POST(self, request):
        try:
            env = parse_envelope(request.content.read(MAX_BODY_BYTES + 1))
        except SoapFault:
            env = None
        fault = sender_fault(ns.WSA, "DestinationUnreachable", f"this scanner is no longer served: {self.why}")
        data = serialize(build_fault(fault, env.message_id if env else None))
        request.setResponseCode(fault.http_status)
        request.setHeader(b"content-type", SOAP_CONTENT_TYPE)
        return data


class _ByAddress(resource.Resource):
    """A POST to ``/``: find the device from ``wsa:To`` (its urn:uuid or URL)."""

    isLeaf = True

    def __init__(self, root: RootResource):
        super().__init__()
        self.root = root

    def render_POST(self, request):
        body = request.content.read(MAX_BODY_BYTES + 1)
        request.content.seek(0)
        try:
            to = parse_envelope(body).to or ""
        except SoapFault:
            to = ""
        for uuid, res in self.root.devices.items():
            if uuid in to:
                return res.render_POST(request)
        if len(self.root.devices) == 1:
            return next(iter(self.root.devices.values())).render_POST(request)
        request.setResponseCode(404)
        return b"no device at this address\n"
