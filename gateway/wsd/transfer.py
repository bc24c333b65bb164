"""RetrieveImage with a Content-Length: the image is spooled to a temporary file, then sent whole.

For a client that refuses a chunked image response (``image_transfer = length``
in the config); the default streams the image while it is scanned. The
scanner still writes into the pipe as it scans; here its bytes go to an
anonymous temporary file instead of the client. Once the page is complete the
multipart message goes out with its length, the file read piece by piece as
the client takes it (Twisted's ``FileSender`` is the producer), so memory
stays bounded either way.
"""

from __future__ import annotations

import tempfile

from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.web import server

from gateway.pipe import ThreadPipe
from gateway.wsd.mtom import MtomMessage

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


def send_with_length(request: server.Request, mtom: MtomMessage, soap_part: bytes, pipe: ThreadPipe,
                     what: str, spool_dir: str | None = None) -> None:
    """Answer ``request`` with the whole MTOM message and its Content-Length, once ``pipe`` has ended."""
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
                request.transport.abortConnection()
            return
        head, tail = mtom.head(soap_part), mtom.tail()
        request.setResponseCode(200)
        request.setHeader(b"content-type", mtom.content_type.encode())
        request.setHeader(b"mime-version", b"1.0")
        request.setHeader(b"content-length", str(len(head) + spool.size + len(tail)).encode())
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
