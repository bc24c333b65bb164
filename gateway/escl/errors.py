"""Why an eSCL request is refused, as the HTTP status clients act on."""

from __future__ import annotations

from http import HTTPStatus

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
