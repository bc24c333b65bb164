"""A client's DocumentParameters -> the settings a job really uses -> SANE option values.

MustHonor as the WSD Scan pages define it: a value the client insists on is
used or the ticket is rejected; any other value we cannot use is replaced by
the nearest one we can, and the replacement is reported (``override``); a value
the client left out is our default (``used_default``).

Geometry is exact: the image of a region ``w`` x ``h`` thousandths of an inch
at ``r`` dpi is ``w * r / 1000`` x ``h * r / 1000`` pixels rounded half up,
whatever the device's own steps. The device scans the smallest area on its
steps that holds those pixels, and the image path crops the rest away
(``enclosing_area``, ``place``). Only where the scan area really ends is a
region cut, and then reported as overridden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from gateway.model import (
    CONTENT_TYPES, Capabilities, ColorMode, DocumentParameters, ErrorKind, FinalParameters, FormatTable, ImageFormat,
    InputSource, PixelWindow, Region, Requested, RequestedSide, ScanTicket, Size, SourceCapabilities,
    TicketRejected, Used, UsedSide,
)
from gateway.scanner.capabilities import MM_PER_INCH, DeviceProfile, Range, SourceProfile
from gateway.scanner.saneapi import UNIT_PIXEL

DEFAULT_QUALITY = 85
DEFAULT_RESOLUTION = 300

# Colour fallbacks, nearest first, for a mode a source lacks.
_COLOR_FALLBACK = {
    ColorMode.RGB_48: (ColorMode.RGB_24, ColorMode.GRAYSCALE_16, ColorMode.GRAYSCALE_8, ColorMode.BLACK_AND_WHITE_1),
    ColorMode.RGB_24: (ColorMode.RGB_48, ColorMode.GRAYSCALE_8, ColorMode.GRAYSCALE_16, ColorMode.BLACK_AND_WHITE_1),
    ColorMode.GRAYSCALE_16: (ColorMode.GRAYSCALE_8, ColorMode.RGB_48, ColorMode.RGB_24, ColorMode.BLACK_AND_WHITE_1),
    ColorMode.GRAYSCALE_8: (ColorMode.GRAYSCALE_16, ColorMode.BLACK_AND_WHITE_1, ColorMode.RGB_24, ColorMode.RGB_48),
    ColorMode.BLACK_AND_WHITE_1: (ColorMode.GRAYSCALE_8, ColorMode.GRAYSCALE_16, ColorMode.RGB_24, ColorMode.RGB_48),
}


def _conflict(what: str) -> TicketRejected:
    return TicketRejected(ErrorKind.CONFLICT, f"{what} cannot be honoured")


def _choose(requested: Requested | None, default, allowed, what: str, nearest=None) -> Used:
    """The common MustHonor rule for an enumerated value."""
    if requested is None:
        return Used(default, used_default=True)
    if requested.value in allowed:
        return Used(requested.value)
    if requested.must_honor:
        raise _conflict(f"{what} {requested.value!r}")
    return Used(nearest(requested.value) if nearest else default, override=True)


def _nearest(values: tuple[int, ...], wanted: int) -> int:
    return min(values, key=lambda v: (abs(v - wanted), -v))


def default_source(caps: Capabilities) -> InputSource:
    return caps.sources()[0]


def default_color(source: SourceCapabilities) -> ColorMode:
    for c in (ColorMode.RGB_24, ColorMode.GRAYSCALE_8):
        if c in source.colors:
            return c
    return source.colors[0]


def default_format(caps: Capabilities) -> str:
    """The scanner's formats come in the format table's order of preference."""
    return caps.formats[0]


def _side(req: RequestedSide | None, source: SourceCapabilities, input_size: Size) -> UsedSide:
    req = req or RequestedSide()
    color = _choose(
        None if req.color is None else req.color, default_color(source),
        [c.value for c in source.colors], "ColorProcessing",
        nearest=lambda v: next((c.value for c in _COLOR_FALLBACK.get(_color(v), ()) if c in source.colors),
                               default_color(source).value),
    )
    color_mode = ColorMode(color.value) if isinstance(color.value, str) else color.value

    if req.resolution is None:
        dpi = DEFAULT_RESOLUTION
        res = Size(_nearest(source.resolutions_x, dpi), _nearest(source.resolutions_y, dpi))
        res_override, res_default = False, True
    else:
        w, h = req.resolution.value.width, req.resolution.value.height
        res = Size(_nearest(source.resolutions_x, w), _nearest(source.resolutions_y, h))
        res_override = res != req.resolution.value
        res_default = False
        if res_override and req.resolution.must_honor:
            raise _conflict(f"Resolution {w}x{h}")

    region, region_override, region_default = _region(req, source, input_size, res)
    return UsedSide(region=region, color=color_mode, resolution=res,
                    region_override=region_override, color_override=color.override,
                    resolution_override=res_override, region_default=region_default,
                    color_default=color.used_default, resolution_default=res_default)


def _color(value: str) -> ColorMode | None:
    try:
        return ColorMode(value)
    except ValueError:
        return None


def _region(req: RequestedSide, source: SourceCapabilities, input_size: Size,
            res: Size) -> tuple[Region, bool, bool]:
    max_w, max_h = source.max_size.width, source.max_size.height
    limit_w, limit_h = min(input_size.width, max_w), min(input_size.height, max_h)
    r = req.region
    if r is None or all(getattr(r, f) is None for f in ("x_offset", "y_offset", "width", "height")):
        region, _cut = _fit_pixels(Region(0, 0, limit_w, limit_h), res, _scan_area(source))
        return region, False, True

    def value(field: Requested | None, default: int) -> tuple[int, bool]:
        return (default, False) if field is None else (field.value, field.must_honor)

    x, x_mh = value(r.x_offset, 0)
    y, y_mh = value(r.y_offset, 0)
    w, w_mh = value(r.width, limit_w - x)
    h, h_mh = value(r.height, limit_h - y)
    if min(x, y) < 0 or min(w, h) < 1:
        raise TicketRejected(ErrorKind.INVALID, "ScanRegion values must be positive")
    if x >= max_w or y >= max_h:
        raise TicketRejected(ErrorKind.INVALID, "ScanRegion lies outside the scan area")
    cw, ch = min(w, max_w - x), min(h, max_h - y)
    region, cut = _fit_pixels(Region(x, y, cw, ch), res, _scan_area(source))
    clipped = (cw, ch) != (w, h) or cut
    if clipped and (w_mh or h_mh or x_mh or y_mh):
        raise _conflict("ScanRegion")
    return region, clipped, False


# ---------------------------------------------------------------- pixel geometry


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest whole number, halves up (both positive)."""
    return (2 * numerator + denominator) // (2 * denominator)


def pixels(thou: int, dpi: int) -> int:
    """A length in thousandths of an inch as pixels at ``dpi``, as WS-Scan counts them."""
    return round_half_up(thou * dpi, 1000)


def thou_for(px: int, dpi: int) -> int:
    """A length in thousandths of an inch of exactly ``px`` pixels at ``dpi``, else the longest of fewer.

    Above 1000 dpi not every pixel count has a length in thousandths.
    """
    t = round_half_up(px * 1000, dpi)
    while t > 1 and pixels(t, dpi) > px:
        t -= 1
    return max(t, 1)


def image_window(side: UsedSide) -> PixelWindow:
    """Where the ticket's image lies on the page, in pixels at the scan resolution."""
    r, res = side.region, side.resolution
    return PixelWindow(pixels(r.x_offset, res.width), pixels(r.y_offset, res.height),
                       max(1, pixels(r.width, res.width)), max(1, pixels(r.height, res.height)))


def _scan_area(source: SourceCapabilities) -> tuple[float, float]:
    if source.scan_area is not None:
        return source.scan_area
    return float(source.max_size.width), float(source.max_size.height)


def _fit_pixels(region: Region, res: Size, area: tuple[float, float]) -> tuple[Region, bool]:
    """A region whose pixels the scan area holds: a region reaching into the area's last, partial pixel
    (or smaller than a pixel) is cut to whole pixels. Returns it and whether it had to change."""
    def axis(offset: int, length: int, extent: float, dpi: int) -> int:
        start = pixels(offset, dpi)
        wanted = max(1, pixels(length, dpi))
        fits = min(wanted, math.floor(extent * dpi / 1000 + 1e-9) - start)
        if fits < 1:
            raise TicketRejected(ErrorKind.INVALID, "ScanRegion lies outside the scan area")
        return length if fits == pixels(length, dpi) else thou_for(fits, dpi)
    width = axis(region.x_offset, region.width, area[0], res.width)
    height = axis(region.y_offset, region.height, area[1], res.height)
    fitted = replace(region, width=width, height=height)
    return fitted, fitted != region


_EDGES = ("tl-x", "tl-y", "br-x", "br-y")


def _snap(value: float, r: Range | None, outwards: int, step: float, upper: bool) -> float:
    """``value`` onto the option's steps: down for a top-left edge, up for a bottom-right one, then
    ``outwards`` steps further out; within the option's range."""
    if r is not None and r.quant:
        step = r.quant
    base = r.min if r is not None else 0.0
    k = (value - base) / step
    k = math.ceil(k - 1e-6) + outwards if upper else math.floor(k + 1e-6) - outwards
    v = base + k * step
    if r is not None:
        v = min(max(v, r.min), r.max)
    return v


def enclosing_area(window: PixelWindow, res: Size, unit: int, geometry: dict[str, Range] | None,
                   outwards: tuple[int, int, int, int] = (0, 0, 0, 0)) -> dict[str, float]:
    """tl-x, tl-y, br-x, br-y of the smallest area on the device's steps that holds ``window``.

    Millimetres, or pixels for a backend that counts geometry in pixels. ``outwards`` moves
    each edge (in that order) so many steps further out: for a backend whose pixel count falls short.
    """
    ends = {"tl-x": window.x, "tl-y": window.y, "br-x": window.x + window.width, "br-y": window.y + window.height}
    area = {}
    for name, grow in zip(_EDGES, outwards):
        dpi = res.width if name.endswith("x") else res.height
        one_pixel = 1.0 if unit == UNIT_PIXEL else MM_PER_INCH / dpi
        value = ends[name] * one_pixel
        v = _snap(value, (geometry or {}).get(name), grow, one_pixel, name.startswith("br"))
        area[name] = int(round(v)) if unit == UNIT_PIXEL else v
    return area


@dataclass(frozen=True)
class Placement:
    """Where the ticket's image lies in the frame the device will scan.

    ``crop`` is the image's window within the frame, clipped to it; None when
    the device has no scan area to set (the frame is the image). ``short``
    says which edges (left, top, right, bottom) of the frame miss image pixels.
    """

    crop: PixelWindow | None
    short: tuple[int, int, int, int]
    shift: tuple[int, int] = (0, 0)  # the frame column and row where the image begins (may be negative)


def place(window: PixelWindow, res: Size, unit: int, values: dict[str, Any], pixels_per_line: int,
          lines: int) -> Placement:
    """The image ``window`` (page pixels) within the frame that the device's geometry ``values`` give.

    ``lines`` may be -1 (not known before the scan): then the bottom is never short.
    """
    if not set(_EDGES) <= values.keys():
        return Placement(None, (0, 0, 0, 0))

    def origin(name: str, dpi: int) -> float:
        return float(values[name]) if unit == UNIT_PIXEL else float(values[name]) * dpi / MM_PER_INCH
    x = math.floor(window.x - origin("tl-x", res.width) + 0.5)
    y = math.floor(window.y - origin("tl-y", res.height) + 0.5)
    left, top = max(x, 0), max(y, 0)
    width = min(window.width - (left - x), pixels_per_line - left)
    rows = lines if lines > 0 else None
    height = window.height - (top - y) if rows is None else min(window.height - (top - y), rows - top)
    short = (int(x < 0), int(y < 0), int(pixels_per_line < x + window.width),
             int(rows is not None and rows < y + window.height))
    return Placement(PixelWindow(left, top, max(width, 0), max(height, 0)), short, (x, y))


def _fit_color_to_format(side: UsedSide, requested: Requested[str] | None, fmt: ImageFormat,
                         source: SourceCapabilities) -> UsedSide:
    """A colour the file format can hold: the nearest one, unless the client insisted on its own."""
    if fmt.holds(side.color):
        return side
    if requested is not None and requested.must_honor:
        raise TicketRejected(ErrorKind.FORMAT, f"format {fmt.name} cannot hold {side.color.value}")
    for color in (side.color, *_COLOR_FALLBACK[side.color]):
        if color in source.colors and fmt.holds(color):
            return replace(side, color=color, color_override=True, color_default=False)
    raise TicketRejected(ErrorKind.FORMAT, f"format {fmt.name} cannot hold any colour mode of this source")


def negotiate(ticket: ScanTicket, caps: Capabilities, formats: FormatTable) -> FinalParameters:
    """The parameters a job will use for this ticket, or ``TicketRejected``.

    ``formats`` says what each of the scanner's formats holds and whether it is lossless.
    """
    p: DocumentParameters = ticket.parameters

    if p.format is not None and p.format.value not in caps.formats:
        raise TicketRejected(ErrorKind.FORMAT, f"format {p.format.value!r} is not supported")
    fmt = _choose(p.format, default_format(caps), caps.formats, "Format")

    source = _choose(p.input_source, default_source(caps), [s.value for s in caps.sources()], "InputSource")
    source = Used(InputSource(source.value), source.override, source.used_default)
    src_caps = caps.source(source.value)

    file_format = formats[fmt.value]
    lossless = file_format.lossless
    if p.compression_quality is None:
        quality = Used(100 if lossless else DEFAULT_QUALITY, used_default=True)
    else:
        q = p.compression_quality
        if not 0 <= q.value <= 100:
            raise TicketRejected(ErrorKind.INVALID, "CompressionQualityFactor must lie in 0..100")
        if lossless and q.value != 100:
            if q.must_honor:
                raise _conflict(f"CompressionQualityFactor {q.value} with lossless {fmt.value}")
            quality = Used(100, override=True)
        else:
            quality = Used(max(q.value, 1), override=q.value < 1)

    if p.images_to_transfer is None:
        images = Used(1 if source.value is InputSource.PLATEN else 0, used_default=True)
    else:
        n = p.images_to_transfer
        if n.value < 0:
            raise TicketRejected(ErrorKind.INVALID, "ImagesToTransfer must not be negative")
        if source.value is InputSource.PLATEN and n.value > 1:
            if n.must_honor:
                raise _conflict("ImagesToTransfer above 1 from the platen")
            images = Used(1, override=True)
        elif source.value is InputSource.PLATEN:
            images = Used(1, override=n.value != 1)
        else:
            images = Used(n.value)

    content = _choose(p.content_type, "Auto", CONTENT_TYPES, "ContentType")

    if p.input_size is not None:
        s = p.input_size.value
        if s.width < 1 or s.height < 1:
            raise TicketRejected(ErrorKind.INVALID, "InputMediaSize must be positive")
        if p.input_size.must_honor and (s.width > src_caps.max_size.width or s.height > src_caps.max_size.height):
            raise _conflict("InputMediaSize")
        input_size = Size(min(s.width, src_caps.max_size.width), min(s.height, src_caps.max_size.height))
    else:
        input_size = src_caps.max_size

    brightness = _exposure(p.brightness, caps.brightness, p.auto_exposure)
    contrast = _exposure(p.contrast, caps.contrast, p.auto_exposure)
    sharpness = _fixed(p.sharpness, 0, "Sharpness", range_=(-100, 100))
    rotation = _fixed(p.rotation, 0, "Rotation", allowed=(0, 90, 180, 270))
    if p.scaling is None:
        scaling = Used(Size(100, 100), used_default=True)
    elif p.scaling.value == Size(100, 100):
        scaling = Used(Size(100, 100))
    elif p.scaling.must_honor:
        raise _conflict("Scaling")
    else:
        scaling = Used(Size(100, 100), override=True)

    front = _side(p.front, src_caps, input_size)
    front = _fit_color_to_format(front, p.front.color if p.front else None, file_format, src_caps)
    # SANE scans both sides of a sheet with one set of options: the back is the front.
    back = front if source.value is InputSource.ADF_DUPLEX else None
    return FinalParameters(
        format=fmt, compression_quality=quality, images_to_transfer=images,
        input_source=source, content_type=content, input_size=input_size,
        brightness=brightness, contrast=contrast, sharpness=sharpness,
        scaling=scaling, rotation=rotation, front=front, back=back,
    )


def _exposure(req: Requested[int] | None, supported: bool, auto: Requested[bool] | None) -> Used[int]:
    if req is None:
        return Used(0, used_default=True)
    if not -1000 <= req.value <= 1000:
        raise TicketRejected(ErrorKind.INVALID, "Brightness and Contrast must lie in -1000..1000")
    if supported or req.value == 0:
        return Used(req.value)
    if req.must_honor or (auto is not None and auto.must_honor):
        raise _conflict("Exposure")
    return Used(0, override=True)


def _fixed(req: Requested[int] | None, only: int, what: str, range_=None, allowed=None) -> Used[int]:
    if req is None:
        return Used(only, used_default=True)
    if range_ and not range_[0] <= req.value <= range_[1] or allowed and req.value not in allowed:
        raise TicketRejected(ErrorKind.INVALID, f"{what} {req.value} is out of range")
    if req.value == only:
        return Used(only)
    if req.must_honor:
        raise _conflict(f"{what} {req.value}")
    return Used(only, override=True)


def default_parameters(caps: Capabilities, formats: FormatTable) -> FinalParameters:
    """The DefaultScanTicket: a ticket with nothing asked resolves to it."""
    return negotiate(ScanTicket(), caps, formats)


def _map_range(value: int, r: Range) -> float:
    """-1000..1000 onto the device's own range, 0 onto its middle."""
    mid = (r.min + r.max) / 2
    span = (r.max - r.min) / 2
    v = mid + span * value / 1000
    if r.quant:
        v = r.min + round((v - r.min) / r.quant) * r.quant
    return v


def _thou_at(px: int, dpi: int) -> int:
    """The offset in thousandths of an inch of pixel ``px``."""
    return round_half_up(px * 1000, dpi)


def region_insisted(ticket: ScanTicket) -> bool:
    """Whether the client sent its front ScanRegion (any part of it) with MustHonor."""
    front = ticket.parameters.front
    r = front.region if front is not None else None
    return r is not None and any(f is not None and f.must_honor for f in (r.x_offset, r.y_offset, r.width, r.height))


def source_profile(final: FinalParameters, profile: DeviceProfile) -> SourceProfile:
    kind = final.input_source.value
    if kind is InputSource.ADF and InputSource.ADF not in profile.sources:
        kind = InputSource.ADF_DUPLEX
    return profile.sources[kind]


@dataclass(frozen=True)
class Settled:
    """What a job delivers once the device has its options."""

    final: FinalParameters
    image: Size  # pixels per line and lines of each image
    crop: PixelWindow | None  # the image within each frame; None: the whole frame


def settle(final: FinalParameters, ticket: ScanTicket, window: PixelWindow, placement: Placement,
           pixels_per_line: int, lines: int) -> Settled:
    """The ticket's image where the frame holds it, as promised; else the part it holds, reported as
    overridden, or refused when the client insisted on its region (``TicketRejected``)."""
    side, res = final.front, final.front.resolution
    if placement.crop is None:
        delivered = PixelWindow(0, 0, pixels_per_line, lines if lines > 0 else window.height)
    else:
        c = placement.crop
        delivered = PixelWindow(window.x + c.x - placement.shift[0], window.y + c.y - placement.shift[1],
                                c.width, c.height)
    if delivered == window:
        return Settled(final, Size(window.width, window.height), placement.crop)
    if delivered.width < 1 or delivered.height < 1:
        raise TicketRejected(ErrorKind.DEVICE, "the scanner cannot scan this region")
    if region_insisted(ticket):
        raise _conflict("ScanRegion (the scanner's own area is smaller)")
    r = side.region
    region = Region(
        r.x_offset if delivered.x == window.x else _thou_at(delivered.x, res.width),
        r.y_offset if delivered.y == window.y else _thou_at(delivered.y, res.height),
        r.width if delivered.width == window.width else thou_for(delivered.width, res.width),
        r.height if delivered.height == window.height else thou_for(delivered.height, res.height))
    front = replace(side, region=region, region_override=side.region_override or not side.region_default)
    final = replace(final, front=front, back=front if final.back is not None else None)
    return Settled(final, Size(delivered.width, delivered.height), placement.crop)


def sane_settings(final: FinalParameters, side: UsedSide, profile: DeviceProfile,
                  area: dict[str, float] | None = None) -> list[tuple[str, Any]]:
    """The SANE option values, in the order backends want them (source and mode first).

    ``area`` is the scan area (``enclosing_area``); by default the smallest that holds the image.
    """
    sp = source_profile(final, profile)
    out: list[tuple[str, Any]] = []
    if sp.sane_source is not None:
        out.append(("source", sp.sane_source))
    mode, depth = sp.modes[side.color]
    out.append(("mode", mode))
    if depth is not None:
        out.append(("depth", depth))
    if len(profile.resolution_options) == 2:
        out += [("x-resolution", side.resolution.width), ("y-resolution", side.resolution.height)]
    else:
        out.append(("resolution", side.resolution.width))
    if area is None:
        area = enclosing_area(image_window(side), side.resolution, profile.geometry_unit, sp.geometry)
    out += [(name, area[name]) for name in _EDGES]
    if profile.brightness and final.brightness.value:
        out.append(("brightness", _map_range(final.brightness.value, profile.brightness)))
    if profile.contrast and final.contrast.value:
        out.append(("contrast", _map_range(final.contrast.value, profile.contrast)))
    return out
