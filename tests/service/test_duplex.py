"""Duplex, with the only fake allowed: a duplex source added at the python-sane boundary."""

import io
import sys

import pytest
from PIL import Image

from tests.support.gateway_process import GatewayProcess, ROOT
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket


@pytest.fixture(scope="module")
def duplex_gateway(tmp_path_factory):
    entry = [sys.executable, str(ROOT / "tests" / "support" / "duplex_gateway.py")]
    with GatewayProcess(tmp_path_factory.mktemp("duplex"), entry=entry) as gw:
        yield gw


def test_configuration_announces_a_duplex_feeder_with_a_back_side(duplex_gateway):
    r = call(duplex_gateway.scan_url, "GetScannerElements", el("GetScannerElementsRequest", el(
        "RequestedElements", el("Name", text="wscn:ScannerConfiguration"))))
    assert r.text(".//wscn:ADF/wscn:ADFSupportsDuplex") == "true"
    assert r.find(".//wscn:ADF/wscn:ADFBack/wscn:ADFColor") is not None


def test_duplex_job_promises_front_and_back_images(duplex_gateway):
    created = create_job(duplex_gateway.scan_url, ticket(source="ADFDuplex", color="Grayscale8", dpi=75,
                                                        region=(0, 0, 1000, 2000), images=2))
    assert created.find(".//wscn:MediaBackImageInfo/wscn:PixelsPerLine") is not None
    assert created.find(".//wscn:DocumentFinalParameters/wscn:MediaSides/wscn:MediaBack") is not None
    job_id, token = job_of(created)
    for _ in range(2):
        retrieve(duplex_gateway.scan_url, job_id, token)


def test_duplex_feeder_delivers_front_and_back_of_each_sheet_until_it_is_empty(duplex_gateway):
    created = create_job(duplex_gateway.scan_url, ticket(
        source="ADFDuplex", color="Grayscale8", dpi=75, region=(0, 0, 1000, 2000), images=0))
    job_id, token = job_of(created)
    front = (int(created.text(".//wscn:MediaFrontImageInfo/wscn:PixelsPerLine")),
             int(created.text(".//wscn:MediaFrontImageInfo/wscn:NumberOfLines")))
    back = (int(created.text(".//wscn:MediaBackImageInfo/wscn:PixelsPerLine")),
            int(created.text(".//wscn:MediaBackImageInfo/wscn:NumberOfLines")))
    images = []
    while True:
        r = retrieve(duplex_gateway.scan_url, job_id, token)
        if r.status != 200:
            break
        images.append(Image.open(io.BytesIO(r.image)).size)
    assert len(images) == 10 and len(images) % 2 == 0  # five sheets, two sides each
    assert images[0::2] == [front] * 5 and images[1::2] == [back] * 5
    assert r.fault_subcode == "wscn:ClientErrorNoImagesAvailable"


def test_an_odd_images_to_transfer_ends_on_a_front_side(duplex_gateway):
    job_id, token = job_of(create_job(duplex_gateway.scan_url, ticket(
        source="ADFDuplex", color="Grayscale8", dpi=75, region=(0, 0, 1000, 1000), images=3)))
    assert [retrieve(duplex_gateway.scan_url, job_id, token).status for _ in range(3)] == [200, 200, 200]
    assert retrieve(duplex_gateway.scan_url, job_id, token).fault_subcode == "wscn:ClientErrorNoImagesAvailable"
