"""The DNS-SD record of one eSCL scanner: service type, instance name and TXT keys.

The keys are the ones eSCL clients read (sane-airscan, macOS, Mopria,
Windows): ``rs`` is the resource path without slashes (Windows 11 refused a
leading one), ``uuid`` the scanner's own UUID (the WSD one too, so clients can
pair the two), ``ty`` the make and model sane-airscan shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.announce import AnnouncedScanner
from gateway.escl import formats
from gateway.escl import namespaces as ns
from gateway.model import ColorMode

SERVICE_TYPE = "_uscan._tcp"
MAX_LABEL_BYTES = 63
"""A DNS label, and so an instance name, is at most 63 bytes."""
MAX_TXT_BYTES = 255
"""One TXT string (``key=value``) is at most 255 bytes."""


@dataclass(frozen=True)
class ServiceRecord:
    """What avahi is asked to publish for one scanner."""

    name: str
    port: int
    txt: tuple[tuple[str, str], ...]
    type: str = SERVICE_TYPE

    def txt_bytes(self) -> list[bytes]:
        """The TXT strings in order, each within its 255 bytes."""
        return [fit_txt(key, value) for key, value in self.txt]


def instance_name(name: str) -> str:
    """``name`` cut to a DNS label's 63 bytes of UTF-8, on a character boundary; never empty."""
    encoded = name.strip().encode("utf-8")[:MAX_LABEL_BYTES]
    return encoded.decode("utf-8", errors="ignore").rstrip() or "Scanner"


def fit_txt(key: str, value: str) -> bytes:
    """``key=value`` in UTF-8; a value too long is cut, a comma list at its last whole entry."""
    head = f"{key}=".encode("utf-8")
    room = MAX_TXT_BYTES - len(head)
    data = value.encode("utf-8")
    if len(data) <= room:
        return head + data
    cut = data[:room]
    if b"," in data:
        cut = cut[:max(cut.rfind(b","), 0)]
    return head + cut.decode("utf-8", errors="ignore").encode("utf-8")


def color_spaces(scanner: AnnouncedScanner) -> tuple[str, ...]:
    """``cs``: color, grayscale, binary, as any source offers them."""
    caps = scanner.capabilities
    modes = {c for s in (caps.platen, caps.adf_front, caps.adf_back) if s is not None for c in s.colors}
    found = []
    if modes & {ColorMode.RGB_24, ColorMode.RGB_48}:
        found.append("color")
    if modes & {ColorMode.GRAYSCALE_8, ColorMode.GRAYSCALE_16}:
        found.append("grayscale")
    if ColorMode.BLACK_AND_WHITE_1 in modes:
        found.append("binary")
    return tuple(found)


def input_sources(scanner: AnnouncedScanner) -> tuple[str, ...]:
    caps = scanner.capabilities
    return tuple(name for name, source in (("platen", caps.platen), ("adf", caps.adf_front)) if source is not None)


def service_record(scanner: AnnouncedScanner, port: int, resource_path: str, admin_url: str = "",
                   icon_url: str = "") -> ServiceRecord:
    """The record of ``scanner`` served on ``port`` under ``resource_path`` (``/eSCL``, or one of its own)."""
    caps = scanner.capabilities
    txt = [
        ("txtvers", "1"),
        ("vers", ns.VERSION),
        ("rs", resource_path.strip("/")),
        ("ty", scanner.make_and_model),
        ("note", scanner.location),
        ("pdl", ",".join(f.mime for f in formats.offered(caps.formats))),
        ("cs", ",".join(color_spaces(scanner))),
        ("is", ",".join(input_sources(scanner))),
        ("duplex", "T" if caps.duplex else "F"),
        ("uuid", scanner.uuid.lower()),
    ]
    if icon_url:
        txt.append(("representation", icon_url))
    if admin_url:
        txt.append(("adminurl", admin_url))
    return ServiceRecord(instance_name(scanner.name), port, tuple(txt))
