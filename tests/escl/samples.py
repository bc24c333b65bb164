"""Model values for the eSCL tests: a scanner like SANE's test device, with a feeder and optionally duplex."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from gateway.announce import AnnouncedScanner
from gateway.model import (
    Capabilities, ColorMode, FinalParameters, ImageInfo, ImageInformation, InputSource, JobState, JobStateReason,
    JobView, Region,
    ScanTicket, Size, SourceCapabilities, Used, UsedSide,
)

UUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
A4 = Size(8267, 11692)
RESOLUTIONS = (75, 100, 150, 200, 300, 600, 1200)


def source(colors=(ColorMode.BLACK_AND_WHITE_1, ColorMode.GRAYSCALE_8, ColorMode.RGB_24), max_size=A4,
           resolutions_x=RESOLUTIONS, resolutions_y=RESOLUTIONS) -> SourceCapabilities:
    return SourceCapabilities(colors=tuple(colors), min_size=Size(40, 40), max_size=max_size,
                              optical_resolution=Size(1200, 1200), resolutions_x=tuple(resolutions_x),
                              resolutions_y=tuple(resolutions_y))


def capabilities(platen=True, feeder=True, duplex=False, formats=("png", "jfif", "exif", "dib", "pdf-a"),
                 **kwargs) -> Capabilities:
    values = dict(name="Test scanner", info="", location="Office", formats=tuple(formats),
                  platen=source() if platen else None, adf_front=source() if feeder else None,
                  adf_back=source() if duplex else None, brightness=False, contrast=False)
    values.update(kwargs)
    return Capabilities(**values)


def scanner(caps: Capabilities | None = None, **kwargs) -> AnnouncedScanner:
    values = dict(uuid=UUID, name="Noname frontend-tester on pi", manufacturer="Noname", model="frontend-tester",
                  serial="test:0", location="Office", capabilities=caps or capabilities())
    values.update(kwargs)
    return AnnouncedScanner(**values)


NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def job(state=JobState.PROCESSING, reasons=(JobStateReason.SCANNING,), scans=0, age=5, job_id=7) -> JobView:
    side = UsedSide(region=Region(0, 0, A4.width, A4.height), color=ColorMode.RGB_24, resolution=Size(300, 300))
    final = FinalParameters(
        format=Used("png"), compression_quality=Used(100), images_to_transfer=Used(1),
        input_source=Used(InputSource.PLATEN), content_type=Used("Auto"), input_size=A4, brightness=Used(0),
        contrast=Used(0), sharpness=Used(0), scaling=Used(Size(100, 100)), rotation=Used(0), front=side)
    created = NOW - timedelta(seconds=age)
    info = ImageInformation(front=ImageInfo(pixels_per_line=2480, lines=3508, bytes_per_line=7440))
    return JobView(id=job_id, token="t0k3n", owner=None, state=state, reasons=tuple(reasons), images_done=scans,
                   feeder_empty=False, more_images=not state.ended, created=created,
                   completed=created if state.ended else None, ticket=ScanTicket(), final=final, image_info=info)


def with_caps(s: AnnouncedScanner, **changes) -> AnnouncedScanner:
    return replace(s, capabilities=replace(s.capabilities, **changes))
