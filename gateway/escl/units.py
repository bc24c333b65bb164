"""Lengths: eSCL counts in 1/300 inch, the model in thousandths of an inch.

Sizes we advertise are rounded towards what the scanner surely can do (a
maximum down, a minimum up); a client's region is converted edge by edge, so
that a region ending at the advertised maximum never ends past the scanner's.
"""

from __future__ import annotations

from gateway.model import Region

PER_INCH = 300
THOU_PER_INCH = 1000


def max_to_escl(thou: int) -> int:
    """A maximum in thousandths as 1/300 inch, rounded down."""
    return thou * PER_INCH // THOU_PER_INCH


def min_to_escl(thou: int) -> int:
    """A minimum in thousandths as 1/300 inch, rounded up."""
    return -(-thou * PER_INCH // THOU_PER_INCH)


def to_thou(escl: int) -> int:
    """A position in 1/300 inch as thousandths, to the nearest (halves away from zero)."""
    scaled = escl * THOU_PER_INCH
    half = PER_INCH // 2
    return (scaled + half) // PER_INCH if scaled >= 0 else -((-scaled + half) // PER_INCH)


def region_to_thou(x: int, y: int, width: int, height: int) -> Region:
    """A ScanRegion in 1/300 inch as a model Region: both edges converted, the size their difference."""
    left, top = to_thou(x), to_thou(y)
    return Region(left, top, to_thou(x + width) - left, to_thou(y + height) - top)

