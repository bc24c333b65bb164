"""SANE option descriptors -> what the scanner can do, in WSD's terms.

The profile keeps the SANE side of each capability (option names, the string
a source or mode has on this backend) so that ``ticket.py`` can map back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.model import Capabilities, ColorMode, InputSource, Size, SourceCapabilities
from gateway.scanner.saneapi import (
    UNIT_MM, UNIT_PIXEL, OptionInfo, SaneDevice, SaneError,
)

STANDARD_RESOLUTIONS = (75, 100, 150, 200, 240, 300, 400, 600, 1200, 2400, 4800)
MM_PER_INCH = 25.4


def mm_to_thou(mm: float) -> int:
    return int(round(mm * 1000 / MM_PER_INCH))


def mm_to_thou_within(mm: float) -> int:
    """Whole thousandths of an inch that fit in ``mm``: a maximum we advertise never exceeds the device's."""
    return int(math.floor(mm * 1000 / MM_PER_INCH + 1e-9))


def classify_source(name: str) -> InputSource | None:
    """A backend's source string -> the WSD input it is (None: not one we serve)."""
    lower = name.lower()
    if "duplex" in lower:
        return InputSource.ADF_DUPLEX
    if any(k in lower for k in ("adf", "feeder", "automatic document")):
        return InputSource.ADF
    if any(k in lower for k in ("flatbed", "platen", "normal", "document table")):
        return InputSource.PLATEN
    if any(k in lower for k in ("transparency", "film", "slide", "negative", "tpu")):
        return InputSource.FILM
    return None


@dataclass(frozen=True)
class Range:
    min: float
    max: float
    quant: float


@dataclass(frozen=True)
class SourceProfile:
    sane_source: str | None
    caps: SourceCapabilities
    modes: dict  # ColorMode -> (mode string, depth or None)
    geometry: dict[str, Range] | None = None
    """tl-x, tl-y, br-x, br-y that can be set on this source, with their ranges and steps.
    Empty: the scan area cannot be set (the frame is what it is); None: not known."""


@dataclass(frozen=True)
class DeviceProfile:
    """SANE option names and values behind each capability."""

    sources: dict  # InputSource -> SourceProfile
    resolution_options: tuple[str, ...]  # ("resolution",) or ("x-resolution", "y-resolution")
    geometry_unit: int
    brightness: Range | None
    contrast: Range | None


def _resolutions(opt: OptionInfo | None) -> tuple[int, ...]:
    if opt is None:
        return (300,)
    if opt.values is not None:
        return tuple(sorted({int(v) for v in opt.values if v > 0}))
    lo, hi, _q = opt.range
    found = tuple(r for r in STANDARD_RESOLUTIONS if lo <= r <= hi)
    return found or (int(hi),)


def _color_modes(opts: dict[str, OptionInfo]) -> dict:
    mode = opts.get("mode")
    depth = opts.get("depth")
    depths = [int(d) for d in depth.values] if depth is not None and depth.values else []
    found: dict = {}
    for m in (mode.values if mode is not None and mode.values else []):
        lower = m.lower()
        if lower in ("lineart", "binary", "black & white", "black and white"):
            found.setdefault(ColorMode.BLACK_AND_WHITE_1, (m, None))
        elif lower in ("gray", "grey", "grayscale", "greyscale", "true gray"):
            if not depths:
                found.setdefault(ColorMode.GRAYSCALE_8, (m, None))
            if 1 in depths:
                found.setdefault(ColorMode.BLACK_AND_WHITE_1, (m, 1))
            if 8 in depths:
                found.setdefault(ColorMode.GRAYSCALE_8, (m, 8))
            if 16 in depths:
                found.setdefault(ColorMode.GRAYSCALE_16, (m, 16))
        elif lower in ("color", "colour", "rgb"):
            if not depths or 8 in depths:
                found.setdefault(ColorMode.RGB_24, (m, 8 if depths else None))
            if 16 in depths:
                found.setdefault(ColorMode.RGB_48, (m, 16))
    order = list(ColorMode)
    return dict(sorted(found.items(), key=lambda kv: order.index(kv[0])))


def _extent(opts: dict[str, OptionInfo], name: str, dpi: int) -> float | None:
    opt = opts.get(name)
    if opt is None or opt.range is None:
        return None
    hi = opt.range[1]
    return hi / dpi * MM_PER_INCH if opt.unit == UNIT_PIXEL else hi


def _geometry(opts: dict[str, OptionInfo]) -> dict[str, Range]:
    found = {}
    for name in ("tl-x", "tl-y", "br-x", "br-y"):
        opt = opts.get(name)
        if opt is not None and opt.active and opt.settable and opt.range is not None:
            found[name] = Range(*opt.range)
    return found if len(found) == 4 else {}


def _source_caps(opts: dict[str, OptionInfo]) -> tuple[SourceCapabilities, dict] | None:
    xs = _resolutions(opts.get("x-resolution") or opts.get("resolution"))
    ys = _resolutions(opts.get("y-resolution") or opts.get("resolution"))
    modes = _color_modes(opts)
    width_mm = _extent(opts, "br-x", max(xs))
    height_mm = _extent(opts, "br-y", max(ys))
    if not modes or width_mm is None or height_mm is None:
        return None
    quant = opts["br-x"].range[2] if opts["br-x"].unit == UNIT_MM else 1.0
    smallest = mm_to_thou(max(quant, 1.0))
    width, height = mm_to_thou_within(width_mm), mm_to_thou_within(height_mm)
    area = (width_mm * 1000 / MM_PER_INCH, height_mm * 1000 / MM_PER_INCH)
    if width > height:
        # sane-airscan swaps a landscape maximum; Windows expects portrait too.
        width, height = height, width
        area = area[::-1]
    caps = SourceCapabilities(
        colors=tuple(modes),
        min_size=Size(smallest, smallest),
        max_size=Size(width, height),
        optical_resolution=Size(max(xs), max(ys)),
        resolutions_x=xs,
        resolutions_y=ys,
        scan_area=area,
    )
    return caps, modes


def _range(opt: OptionInfo | None) -> Range | None:
    if opt is None or not opt.active or not opt.settable or opt.range is None:
        return None
    return Range(*opt.range)


def read_capabilities(dev: SaneDevice, name: str, formats: tuple[str, ...],
                      info: str = "", location: str = "") -> tuple[Capabilities, DeviceProfile]:
    """Probe every source of an open device (the source changes geometry and modes)."""
    opts = dev.options()
    source_opt = opts.get("source")
    sources: dict[InputSource, SourceProfile] = {}
    if source_opt is not None and source_opt.values and source_opt.settable:
        original = dev.get("source")
        for value in source_opt.values:
            kind = classify_source(value)
            if kind is None or kind in sources or kind is InputSource.FILM:
                continue
            try:
                dev.set("source", value)
            except SaneError:
                continue
            found = _source_caps(dev.options())
            if found:
                sources[kind] = SourceProfile(value, found[0], found[1], _geometry(dev.options()))
        dev.set("source", original)
        opts = dev.options()
    else:
        found = _source_caps(opts)
        if found:
            sources[InputSource.PLATEN] = SourceProfile(None, found[0], found[1], _geometry(opts))

    if "x-resolution" in opts and "y-resolution" in opts:
        resolution_options: tuple[str, ...] = ("x-resolution", "y-resolution")
    else:
        resolution_options = ("resolution",)
    geometry_unit = opts["br-x"].unit if "br-x" in opts else UNIT_MM
    profile = DeviceProfile(
        sources=sources,
        resolution_options=resolution_options,
        geometry_unit=geometry_unit,
        brightness=_range(opts.get("brightness")),
        contrast=_range(opts.get("contrast")),
    )

    def caps_of(kind):
        return sources[kind].caps if kind in sources else None

    adf = caps_of(InputSource.ADF) or caps_of(InputSource.ADF_DUPLEX)
    caps = Capabilities(
        name=name,
        info=info,
        location=location,
        formats=formats,
        platen=caps_of(InputSource.PLATEN),
        adf_front=adf,
        adf_back=caps_of(InputSource.ADF_DUPLEX),
        brightness=profile.brightness is not None,
        contrast=profile.contrast is not None,
    )
    return caps, profile
