"""The document formats eSCL offers, by MIME type, and the core's format each one is made with.

eSCL names a format by its MIME type; the core by its own format name (WSD's
names, as ``Capabilities.formats`` lists them). Only these three are offered:
every eSCL client reads at least one of them, and PDF takes a whole feeder
batch as one file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentFormat:
    mime: str
    core: str
    """The core's name of the format that produces these bytes."""


FORMATS = (
    DocumentFormat("image/jpeg", "jfif"),
    DocumentFormat("image/png", "png"),
    DocumentFormat("application/pdf", "pdf-a"),
)
"""In the order we advertise them."""

_BY_MIME = {f.mime: f for f in FORMATS}


def offered(core_formats: tuple[str, ...]) -> tuple[DocumentFormat, ...]:
    """The eSCL formats a scanner whose core makes ``core_formats`` can deliver."""
    return tuple(f for f in FORMATS if f.core in core_formats)


def by_mime(mime: str) -> DocumentFormat | None:
    """The format a client's MIME type names (case and parameters ignored), or None."""
    return _BY_MIME.get(mime.split(";", 1)[0].strip().lower())
