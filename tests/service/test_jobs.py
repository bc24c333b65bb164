"""CreateScanJob, RetrieveImage and the job operations sane-airscan never sends, over plain HTTP."""

import io

import pytest
from PIL import Image

from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket


def scan(gw, **kw):
    r = create_job(gw.scan_url, ticket(**kw))
    assert r.status == 200, r.body
    job_id, token = job_of(r)
    image = retrieve(gw.scan_url, job_id, token)
    assert image.status == 200, image.body[:2000]
    return r, image


def test_png_colour_scan_has_the_size_and_mode_of_the_ticket(gateway):
    created, image = scan(gateway, fmt="png", color="RGB24", dpi=100)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == "PNG" and picture.mode == "RGB"
    assert picture.size == (1181, 1181)  # 300 mm at 100 dpi
    assert created.text(".//wscn:MediaFrontImageInfo/wscn:PixelsPerLine") == "1181"
    assert created.text(".//wscn:MediaFrontImageInfo/wscn:NumberOfLines") == "1181"
    assert created.text(".//wscn:MediaFrontImageInfo/wscn:BytesPerLine") == "0"


def test_response_is_mtom_with_the_soap_part_first_and_the_image_part_second(gateway):
    _created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=75)
    assert 'type="application/xop+xml"' in image.headers["content-type"]
    assert image.headers.get("transfer-encoding") == "chunked"
    (soap_type, _soap), (image_type, _data) = image.parts()
    assert soap_type == "application/xop+xml" and image_type == "image/png"
    href = image.find(".//wscn:ScanData/xop:Include").get("href")
    assert href.startswith("cid:")


def test_the_multipart_body_opens_with_a_crlf_before_its_first_boundary(gateway):
    _created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500))
    boundary = image.headers["content-type"].split('boundary="')[1].split('"')[0]
    assert image.body.startswith(b"\r\n--" + boundary.encode() + b"\r\n")


@pytest.mark.parametrize("color, mode", [("BlackAndWhite1", "1"), ("Grayscale8", "L"), ("Grayscale16", "I;16"),
                                         ("RGB24", "RGB")])
def test_png_keeps_every_colour_depth(gateway, color, mode):
    _created, image = scan(gateway, fmt="png", color=color, dpi=75)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.mode.startswith(mode.split(";")[0]) and picture.size == (885, 885)


@pytest.mark.parametrize("color, mode", [("BlackAndWhite1", "L"), ("Grayscale8", "L"), ("RGB24", "RGB")])
def test_jfif_scan_decodes_as_jpeg(gateway, color, mode):
    _created, image = scan(gateway, fmt="jfif", color=color, dpi=75)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == "JPEG" and picture.mode == mode and picture.size == (885, 885)
    assert picture.info.get("dpi") == (75, 75)


@pytest.mark.parametrize("color, mode", [("BlackAndWhite1", "P"), ("Grayscale8", "L"), ("RGB24", "RGB")])
def test_dib_scan_is_a_complete_bmp_file(gateway, color, mode):
    created, image = scan(gateway, fmt="dib", color=color, dpi=75)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == "BMP" and picture.mode == mode and picture.size == (885, 885)
    bits = {"BlackAndWhite1": 1, "Grayscale8": 8, "RGB24": 24}[color]
    assert created.text(".//wscn:BytesPerLine") == str((885 * bits + 31) // 32 * 4)


def test_scan_region_in_thousandths_of_an_inch_becomes_the_image_size(gateway):
    created, image = scan(gateway, fmt="png", color="Grayscale8", dpi=100, region=(1000, 2000, 2000, 3000))
    picture = Image.open(io.BytesIO(image.image))
    promised = (int(created.text(".//wscn:PixelsPerLine")), int(created.text(".//wscn:NumberOfLines")))
    assert picture.size == promised
    assert abs(picture.size[0] - 200) <= 2 and abs(picture.size[1] - 300) <= 2
    assert created.text(".//wscn:DocumentFinalParameters//wscn:ScanRegionWidth") == "2000"


def test_test_picture_content_arrives_intact(tmp_path):
    from tests.support.gateway_process import GatewayProcess
    with GatewayProcess(tmp_path, test_conf='geometry_max 300.0\ntest-picture "Solid white"\n') as gw:
        _created, image = scan(gw, fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 1000, 1000))
    picture = Image.open(io.BytesIO(image.image))
    assert picture.getextrema() == (255, 255)


def test_final_parameters_mark_what_the_scanner_chose(gateway):
    created, _image = scan(gateway, fmt="png", color="RGB24", dpi=301)
    resolution = created.find(".//wscn:DocumentFinalParameters//wscn:Resolution/wscn:Width")
    assert resolution.text == "300"
    assert resolution.get("{http://schemas.microsoft.com/windows/2006/08/wdp/scan}Override") == "true"
    rotation = created.find(".//wscn:DocumentFinalParameters/wscn:Rotation")
    assert rotation.get("{http://schemas.microsoft.com/windows/2006/08/wdp/scan}UsedDefault") == "true"


def test_a_second_job_while_one_is_active_is_refused(gateway):
    first = create_job(gateway.scan_url, ticket(dpi=75))
    second = create_job(gateway.scan_url, ticket(dpi=75))
    assert second.status == 500 and second.fault_subcode == "wscn:ServerErrorNotAcceptingJobs"
    job_id, token = job_of(first)
    assert retrieve(gateway.scan_url, job_id, token).status == 200


def test_retrieve_with_a_wrong_token_is_refused_and_the_job_survives(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    bad = retrieve(gateway.scan_url, job_id, token + "x")
    assert bad.status == 400 and bad.fault_subcode == "wscn:ClientErrorInvalidJobToken"
    assert retrieve(gateway.scan_url, job_id, token).status == 200


def test_retrieve_of_an_unknown_job_is_job_id_not_found(gateway):
    r = retrieve(gateway.scan_url, 7, "nothing")
    assert r.fault_subcode == "wscn:ClientErrorJobIdNotFound"


def test_retrieve_after_the_last_image_is_no_images_available(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    assert retrieve(gateway.scan_url, job_id, token).status == 200
    again = retrieve(gateway.scan_url, job_id, token)
    assert again.fault_subcode == "wscn:ClientErrorNoImagesAvailable"


def test_cancelled_job_refuses_retrieve_and_shows_canceled(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    cancelled = call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
    assert cancelled.status == 200 and cancelled.find(".//wscn:CancelJobResponse") is not None
    r = retrieve(gateway.scan_url, job_id, token)
    assert r.fault_subcode == "wscn:ClientErrorJobCancelled"
    status = call(gateway.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                  el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    assert status.text(".//wscn:JobStatus/wscn:JobState") == "Canceled"


def test_cancel_of_an_unknown_job_is_job_id_not_found(gateway):
    r = call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=12)))
    assert r.fault_subcode == "wscn:ClientErrorJobIdNotFound"


def test_job_elements_give_status_ticket_and_documents(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    retrieve(gateway.scan_url, job_id, token, name="page-one")
    r = call(gateway.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
             el("RequestedElements", el("Name", text="wscn:JobStatus"), el("Name", text="wscn:ScanTicket"),
                el("Name", text="wscn:Documents"))))
    assert r.text(".//wscn:JobStatus/wscn:JobState") == "Completed"
    assert r.text(".//wscn:JobStatus/wscn:ScansCompleted") == "1"
    assert r.text(".//wscn:ScanTicket/wscn:JobDescription/wscn:JobName") == "test"
    assert r.text(".//wscn:Documents/wscn:Document/wscn:DocumentDescription/wscn:DocumentName") == "page-one"


def test_job_elements_of_an_unknown_job_is_job_id_not_found(gateway):
    r = call(gateway.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=99),
             el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    assert r.fault_subcode == "wscn:ClientErrorJobIdNotFound"


def test_active_jobs_list_a_job_until_it_ends(gateway):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
    active = call(gateway.scan_url, "GetActiveJobs", el("GetActiveJobsRequest"))
    assert [e.text for e in active.xml.iter("{*}JobId")] == [str(job_id)]
    retrieve(gateway.scan_url, job_id, token)
    active = call(gateway.scan_url, "GetActiveJobs", el("GetActiveJobsRequest"))
    assert active.find(".//wscn:ActiveJobs") is not None and not list(active.xml.iter("{*}JobSummary"))


def test_job_history_lists_ended_jobs_newest_first(gateway):
    ids = []
    for _ in range(2):
        job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
        retrieve(gateway.scan_url, job_id, token)
        ids.append(job_id)
    history = call(gateway.scan_url, "GetJobHistory", el("GetJobHistoryRequest"))
    listed = [int(e.text) for e in history.xml.iter("{*}JobId")]
    assert listed[:2] == [ids[1], ids[0]]
    assert history.text(".//wscn:JobSummary/wscn:JobState") == "Completed"


def test_job_ids_are_not_reused(gateway):
    ids = set()
    for _ in range(3):
        job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
        call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id)))
        ids.add(job_id)
    assert len(ids) == 3


def test_tiff_g4_carries_a_black_and_white_scan(gateway):
    _created, image = scan(gateway, fmt="tiff-single-g4", color="BlackAndWhite1", dpi=75)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == "TIFF" and picture.mode == "1" and picture.size == (885, 885)
    assert picture.info.get("compression") == "group4"


def test_uncompressed_tiff_carries_a_grey_scan_and_says_its_row_size(gateway):
    created, image = scan(gateway, fmt="tiff-single-uncompressed", color="Grayscale8", dpi=75)
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == "TIFF" and picture.mode == "L" and picture.size == (885, 885)
    assert created.text(".//wscn:BytesPerLine") == "885"


@pytest.mark.parametrize("color", ["RGB24", "RGB48"])
def test_a_three_pass_scanner_gives_the_same_picture_as_a_one_pass_scanner(tmp_path, color):
    from tests.support.gateway_process import GatewayProcess
    pictures = []
    for three_pass in ("false", "true"):
        conf = f'geometry_max 300.0\ntest-picture "Color pattern"\nthree-pass {three_pass}\nthree-pass-order GBR\n'
        with GatewayProcess(tmp_path / three_pass, test_conf=conf) as gw:
            _created, image = scan(gw, fmt="png", color=color, dpi=75, region=(0, 0, 4000, 3000))
            if three_pass == "true":
                assert "three-pass scan" in gw.log()
        pictures.append(Image.open(io.BytesIO(image.image)))
    assert pictures[0].size == pictures[1].size
    assert pictures[0].tobytes() == pictures[1].tobytes()


@pytest.mark.parametrize("fmt", ["png", "jfif"])
def test_a_page_of_unknown_height_arrives_whole(tmp_path, fmt):
    from tests.support.gateway_process import GatewayProcess
    with GatewayProcess(tmp_path, test_conf="geometry_max 300.0\nhand-scanner true\n") as gw:
        created, image = scan(gw, fmt=fmt, color="Grayscale8", dpi=75, region=(0, 0, 4000, 4000))
    picture = Image.open(io.BytesIO(image.image))
    picture.load()
    # The hand scanner's frame is 11 cm wide; the image is the ticket's 4 inches at 75 dpi.
    assert picture.size[0] == 300 and picture.size[1] > 1
    assert int(created.text(".//wscn:NumberOfLines")) >= 1


def test_a_multi_page_tiff_feeder_job_returns_every_sheet_in_one_file(gateway):
    created = create_job(gateway.scan_url, ticket(fmt="tiff-multi-g4", source="ADF", color="BlackAndWhite1", dpi=75,
                                                 region=(0, 0, 1000, 1000), images=0))
    job_id, token = job_of(created)
    r = retrieve(gateway.scan_url, job_id, token)
    assert r.status == 200
    tiff = Image.open(io.BytesIO(r.image))
    assert tiff.n_frames == 10
    assert retrieve(gateway.scan_url, job_id, token).fault_subcode == "wscn:ClientErrorNoImagesAvailable"
    status = call(gateway.scan_url, "GetJobElements", el("GetJobElementsRequest", el("JobId", text=job_id),
                  el("RequestedElements", el("Name", text="wscn:JobStatus"))))
    assert status.text(".//wscn:JobState") == "Completed" and status.text(".//wscn:ScansCompleted") == "10"


def pdf_pages(data: bytes, tmp_path) -> int:
    import re
    import subprocess
    (tmp_path / "scan.pdf").write_bytes(data)
    info = subprocess.run(["pdfinfo", str(tmp_path / "scan.pdf")], capture_output=True, text=True, timeout=30)
    return int(re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M).group(1))


def test_a_pdf_feeder_job_with_images_to_transfer_has_that_many_pages(gateway, tmp_path):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(fmt="pdf-a", source="ADF", color="RGB24", dpi=75,
                                                             region=(0, 0, 2000, 2000), images=3)))
    r = retrieve(gateway.scan_url, job_id, token)
    assert r.status == 200 and r.image.startswith(b"%PDF-1.4")
    assert pdf_pages(r.image, tmp_path) == 3


def test_a_platen_pdf_is_one_page(gateway, tmp_path):
    job_id, token = job_of(create_job(gateway.scan_url, ticket(fmt="pdf-a", color="Grayscale8", dpi=75,
                                                             region=(0, 0, 2000, 2000))))
    r = retrieve(gateway.scan_url, job_id, token)
    assert pdf_pages(r.image, tmp_path) == 1
    assert retrieve(gateway.scan_url, job_id, token).fault_subcode == "wscn:ClientErrorNoImagesAvailable"


@pytest.mark.parametrize("fmt, color, kind", [
    ("png", "RGB24", "PNG"), ("jfif", "Grayscale8", "JPEG"), ("exif", "RGB24", "JPEG"), ("dib", "RGB24", "BMP"),
    ("tiff-single-uncompressed", "Grayscale16", "TIFF"), ("tiff-single-g4", "BlackAndWhite1", "TIFF"),
    ("tiff-multi-uncompressed", "RGB24", "TIFF"), ("tiff-multi-g4", "BlackAndWhite1", "TIFF"),
])
def test_every_advertised_image_format_decodes_at_the_promised_size(gateway, fmt, color, kind):
    created, image = scan(gateway, fmt=fmt, color=color, dpi=75, region=(0, 0, 3000, 2000))
    picture = Image.open(io.BytesIO(image.image))
    assert picture.format == kind
    assert picture.size == (int(created.text(".//wscn:PixelsPerLine")), int(created.text(".//wscn:NumberOfLines")))
    assert image.parts()[1][0] == {"PNG": "image/png", "JPEG": "image/jpeg", "BMP": "image/bmp",
                                   "TIFF": "image/tiff"}[kind]


def test_the_service_advertises_exactly_the_formats_tested_here(gateway):
    r = call(gateway.scan_url, "GetScannerElements", el("GetScannerElementsRequest", el(
        "RequestedElements", el("Name", text="wscn:ScannerConfiguration"))))
    advertised = {e.text for e in r.xml.iter("{*}FormatValue")}
    assert advertised == {"png", "jfif", "exif", "dib", "tiff-single-uncompressed", "tiff-single-g4",
                          "tiff-multi-uncompressed", "tiff-multi-g4", "pdf-a"}
