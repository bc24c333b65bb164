"""The status page's test scan, in-process: what it refuses before it touches the scanner."""

from __future__ import annotations

import pytest

from gateway.model import ColorMode, ErrorKind, InputSource, ServiceError
from gateway.web.testscan import ScanChoice, ScanTest, ticket_for

WANTED = ScanChoice("uuid-1", InputSource.PLATEN, ColorMode.RGB_24, 75, "png")


class UntouchedScanner:
    """A scanner core the test scan must not use."""

    name = "Flatbed"

    def create_job(self, ticket, owner=None):
        pytest.fail("a job was created although the image could not be written")


def test_a_spool_directory_that_cannot_be_written_fails_before_the_scanner_is_used(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    failures = []
    d = ScanTest(lambda: {}, not_a_directory).scan(UntouchedScanner(), WANTED, "status page 127.0.0.1")
    d.addErrback(failures.append)
    [failure] = failures
    assert isinstance(failure.value, ServiceError) and failure.value.kind is ErrorKind.DEVICE
    assert str(not_a_directory) in failure.value.reason


def test_a_test_scan_ticket_insists_on_every_choice_and_one_image():
    p = ticket_for(WANTED).parameters
    assert (p.format.value, p.input_source.value, p.front.color.value, p.front.resolution.value.width,
            p.images_to_transfer.value) == ("png", "Platen", "RGB24", 75, 1)
    assert all(r.must_honor for r in (p.format, p.input_source, p.front.color, p.front.resolution))


