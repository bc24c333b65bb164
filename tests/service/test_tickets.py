"""ValidateScanTicket and MustHonor, as the WSD Scan pages define them."""

from tests.support.soap_client import call, create_job, el, ticket

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"


def validate(gw, t):
    return call(gw.scan_url, "ValidateScanTicket", el("ValidateScanTicketRequest", t))


def test_a_ticket_the_scanner_can_do_is_valid(gateway):
    r = validate(gateway, ticket(dpi=300))
    assert r.status == 200
    assert r.text(".//wscn:ValidationInfo/wscn:ValidTicket") == "true"
    assert r.find(".//wscn:ValidScanTicket") is None
    assert r.text(".//wscn:ImageInformation/wscn:MediaFrontImageInfo/wscn:PixelsPerLine") == "3543"


def test_an_unsupported_value_without_must_honor_is_corrected(gateway):
    r = validate(gateway, ticket(dpi=333))
    assert r.text(".//wscn:ValidTicket") == "false"
    assert r.text(".//wscn:ValidScanTicket//wscn:Resolution/wscn:Width") == "300"


def test_an_unsupported_value_with_must_honor_is_a_conflict(gateway):
    r = validate(gateway, ticket(dpi=333, must_honor=("Resolution",)))
    assert r.status == 400 and r.fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"


def test_create_job_with_an_impossible_must_honor_value_is_refused(gateway):
    r = create_job(gateway.scan_url, ticket(images=3, source="Platen", must_honor=("ImagesToTransfer",)))
    assert r.fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"


def test_a_missing_source_uses_the_default_and_says_so(gateway):
    r = validate(gateway, ticket(source=None))
    assert r.text(".//wscn:ValidTicket") == "true"
    created = create_job(gateway.scan_url, ticket(source=None, dpi=75))
    source = created.find(".//wscn:DocumentFinalParameters/wscn:InputSource")
    assert source.text == "Platen" and source.get(W + "UsedDefault") == "true"
    call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=created.text(".//wscn:JobId"))))


def test_lossless_format_ignores_quality_unless_it_must_be_honoured(gateway):
    corrected = validate(gateway, ticket(fmt="png", quality=50))
    assert corrected.text(".//wscn:ValidScanTicket//wscn:CompressionQualityFactor") == "100"
    refused = validate(gateway, ticket(fmt="png", quality=50, must_honor=("CompressionQualityFactor",)))
    assert refused.fault_subcode == "wscn:ClientErrorConflictingRequiredParameters"


def test_brightness_over_the_full_range_is_accepted(gateway):
    t = ticket()
    t.find(W + "DocumentParameters").append(
        el("Exposure", el("ExposureSettings", el("Brightness", text=1000), el("Contrast", text=-1000))))
    r = validate(gateway, t)
    assert r.status == 200


def test_brightness_beyond_the_range_is_invalid_args(gateway):
    t = ticket()
    t.find(W + "DocumentParameters").append(el("Exposure", el("ExposureSettings", el("Brightness", text=1001))))
    assert validate(gateway, t).fault_subcode == "wscn:InvalidArgs"
