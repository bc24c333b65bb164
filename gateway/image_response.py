"""An image's bytes into a twisted.web response, for any front end: streamed as the scanner delivers them,
or spooled and sent with a Content-Length.

``stream_image`` (the default) makes the pipe the response's push producer:
a slow client pauses it (the scanner waits), a client that goes away stops
the scan, and a scan that fails mid-image cuts the connection, since a
started response can no longer become an error.

``spool_image`` is for a client that refuses a chunked image response
(``image_transfer = length`` in the config): the scanner still writes into
the pipe as it scans, but its bytes go to an anonymous temporary file. Once
the image is complete the response goes out with its length, the file read
piece by piece as the client takes it (Twisted's ``FileSender`` is the
producer), so memory stays bounded either way.

The caller gives what comes before and after the image (a multipart head and
tail, or nothing) and the response headers.
"""

from __future__ import annotations

import tempfile

from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.web import server

from gateway.pipe import ClientGone, PipeClosed, ThreadPipe

log = Logger()


class ImageSpool:
    """The encoded image in an anonymous temporary file (removed when closed, or if the process dies)."""

    def __init__(self, directory: str | None = None):
        self.file = tempfile.TemporaryFile(prefix="sane-wsd-image-", dir=directory)
        self.size = 0
        self.error: OSError | None = None

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self.file.write(data)
        except OSError as e:  # a full disk: the transfer fails, the gateway goes on
            self.error = e
            return
        self.size += len(data)

    def close(self) -> None:
        self.file.close()


def watch_connection(request: server.Request) -> None:
    """Note when the client goes away (its notifyFinish fails), so that nothing is written to it after."""
    request.connection_lost = False

    def lost(_failure):
        request.connection_lost = True
    request.notifyFinish().addErrback(lost)


def connection_gone(request: server.Request) -> bool:
    return getattr(request, "connection_lost", False)


CUT_OFF_DELAY = 0.1
"""How long a cut-off image connection stays open: a cancel's own answer (CancelJob's response, a DELETE's
200) goes out first, on its own connection. A client that saw the image connection reset before that
answer could be left waiting (sane-airscan 0.99.27 was, about once in ten cancels under load)."""


def cut_off(request: server.Request, clock=None) -> None:
    """End a started image response as failed: the connection is reset, shortly (``CUT_OFF_DELAY``)."""
    if clock is None:
        from twisted.internet import reactor as clock
    clock.callLater(CUT_OFF_DELAY, request.transport.abortConnection)


def _start(request: server.Request, headers: dict[bytes, bytes]) -> None:
    request.setResponseCode(200)
    for name, value in headers.items():
        request.setHeader(name, value)


def stream_image(request: server.Request, pipe: ThreadPipe, head: bytes, tail: bytes, headers: dict[bytes, bytes],
                 what: str, peer: str) -> None:
    """Answer ``request`` with ``head``, the pipe's bytes as they come, then ``tail``."""
    _start(request, headers)
    request.write(head)
    request.registerProducer(pipe, True)
    request.notifyFinish().addErrback(lambda _f: pipe.stopProducing())

    def done(error):
        if isinstance(error, ClientGone) or connection_gone(request):
            log.info("{what} not delivered: {peer} closed the connection", what=what, peer=peer)
            return
        request.unregisterProducer()
        if error is not None:
            # A failed scan was logged where it failed; a stopped transfer says why here.
            log.warn("{what} to {peer} cut off: {why}", what=what, peer=peer,
                     why=error if isinstance(error, PipeClosed) else "the scan failed")
            cut_off(request)
            return
        request.write(tail)
        request.finish()

    pipe.attach(request.write, done)


def spool_image(request: server.Request, pipe: ThreadPipe, head: bytes, tail: bytes, headers: dict[bytes, bytes],
                what: str, spool_dir: str | None = None) -> None:
    """Answer ``request`` with ``head``, the image and ``tail`` and their Content-Length, once ``pipe`` has ended."""
    try:
        spool = ImageSpool(spool_dir)
    except OSError as e:
        log.error("cannot spool the {what}: {error}", what=what, error=e)
        pipe.abort()
        request.setResponseCode(500)
        request.finish()
        return
    gone: list = []

    def client_gone(failure) -> None:
        gone.append(failure)
        pipe.abort()
    request.notifyFinish().addErrback(client_gone)

    def write(data: bytes) -> None:
        spool.write(data)
        if spool.error is not None:
            pipe.abort()

    def spooled(error: Exception | None) -> None:
        error = error or spool.error
        if error is not None or gone:
            spool.close()
            if error is not None:
                log.warn("{what} ended early: {error}", what=what, error=error)
            if not gone:
                cut_off(request)
            return
        _start(request, {**headers, b"content-length": str(len(head) + spool.size + len(tail)).encode()})
        request.write(head)
        spool.file.seek(0)
        log.debug("{what}: {n} bytes spooled, sending them with their length", what=what, n=spool.size)

        def sent(_last) -> None:
            spool.close()
            if not gone:
                request.write(tail)
                request.finish()

        def failed(failure) -> None:
            spool.close()
            log.info("{what}: the client left during the transfer ({error})", what=what,
                     error=failure.getErrorMessage())
        FileSender().beginFileTransfer(spool.file, request).addCallbacks(sent, failed)

    pipe.attach(write, spooled)
