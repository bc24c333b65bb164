"""The two XML namespaces of eSCL, defined once, and the prefixes clients insist on.

sane-airscan compares element names with their prefix as written (``scan:Foo``,
``pwg:Foo``) and eSCLKt maps namespaces by prefix, so every document we send
binds exactly these two prefixes on its root and never uses a default namespace.
"""

from __future__ import annotations

SCAN = "http://schemas.hp.com/imaging/escl/2011/05/03"
PWG = "http://www.pwg.org/schemas/2010/12/sm"

NSMAP = {"scan": SCAN, "pwg": PWG}
"""The only prefix bindings we emit: ``scan:`` and ``pwg:`` literally."""

VERSION = "2.63"
"""The eSCL version we claim (pwg:Version and the TXT ``vers``). From 2.63 on DocumentFormatExt is
required in capabilities; we send it beside pwg:DocumentFormat, which older clients read."""

UNITS = "escl:ThreeHundredthsOfInches"
"""The one ContentRegionUnits token clients send and read: lengths are in 1/300 inch."""


def scan(local: str) -> str:
    """A ``scan:`` element name in lxml's Clark notation."""
    return f"{{{SCAN}}}{local}"


def pwg(local: str) -> str:
    """A ``pwg:`` element name in lxml's Clark notation."""
    return f"{{{PWG}}}{local}"
