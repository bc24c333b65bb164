"""Why an eSCL request is refused, as the HTTP status clients act on."""

from __future__ import annotations

from http import HTTPStatus

from gateway.model import ErrorKind, ServiceError

MAX_REASON = 300
"""Characters of a reason: client text quoted in one is cut here, so that a log line stays a line."""


def clip(text: str, limit: int = MAX_REASON) -> str:
    """``text`` cut to ``limit`` characters, marked where it was cut; control characters made visible."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


class RequestRefused(Exception):
    """A request answered with ``status`` and a one-line ``reason`` in the body and the log."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, reason: str):
        self.reason = clip(reason)
        super().__init__(self.reason)


class MalformedRequest(RequestRefused):
    """Not a document we can read: not XML, too large, a DTD, a non-number where a number belongs."""

    status = HTTPStatus.BAD_REQUEST


class UnsupportedSettings(RequestRefused):
    """Well-formed settings this scanner cannot scan with: eSCL's 409 Conflict."""

    status = HTTPStatus.CONFLICT


class NotFound(RequestRefused):
    """No such job or path, or a job with no document left (the end of a platen page, an empty feeder)."""

    status = HTTPStatus.NOT_FOUND


class TooLarge(RequestRefused):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class Busy(RequestRefused):
    """Another job holds the scanner, whichever protocol started it: come back later."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


class PaperProblem(RequestRefused):
    """A jam or an open cover stopped the scan; ScannerStatus' AdfState says which."""

    status = HTTPStatus.CONFLICT


class DeviceFailed(RequestRefused):
    """The scanner failed or does not answer (sane-airscan reports an I/O error)."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR


KIND_REFUSALS: dict[ErrorKind, type[RequestRefused]] = {
    ErrorKind.CONFLICT: UnsupportedSettings,
    ErrorKind.FORMAT: UnsupportedSettings,
    ErrorKind.INVALID: UnsupportedSettings,
    ErrorKind.NO_IMAGES: NotFound,
    ErrorKind.BUSY: Busy,
    ErrorKind.NOT_FOUND: NotFound,
    ErrorKind.BAD_TOKEN: NotFound,
    ErrorKind.CANCELLED: NotFound,
    ErrorKind.DEVICE: DeviceFailed,
}
"""THE map from the core's error kinds to eSCL's answers. NO_IMAGES is 404, never 409: Windows shows a 409
at the end of a feeder batch as a paper jam, and sane-airscan takes 404 as "no more documents"."""


def refusal(error: ServiceError, paper_problem: bool = False) -> RequestRefused:
    """The answer to a request the core refused; ``paper_problem``: the scanner now reports a jam or an open
    cover, which is what a device failure then was (409, so that clients look at AdfState)."""
    if error.kind is ErrorKind.DEVICE and paper_problem:
        return PaperProblem(error.reason)
    return KIND_REFUSALS[error.kind](error.reason)
