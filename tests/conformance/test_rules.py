"""The checker itself: it passes what the schema allows and names each kind of deviation it exists to catch."""

import pytest
from lxml import etree

from tests.conformance.wscan_rules import fault_problems, problems

NS = 'xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan"'


def x(text: str) -> etree._Element:
    """An element written as text, the scan namespace declared on its root."""
    head, rest = text.split(">", 1)
    return etree.fromstring(f"{head} {NS}>{rest}")


JOB_STATUS = ("<wscn:JobStatus><wscn:JobId>7</wscn:JobId><wscn:JobState>Processing</wscn:JobState>"
              "<wscn:JobStateReasons><wscn:JobStateReason>{reason}</wscn:JobStateReason></wscn:JobStateReasons>"
              "<wscn:ScansCompleted>0</wscn:ScansCompleted></wscn:JobStatus>")
CONDITION = ("<wscn:DeviceCondition {id}><wscn:Time>2024-01-02T03:04:05Z</wscn:Time><wscn:Name>{name}</wscn:Name>"
             "<wscn:Component>MediaPath</wscn:Component><wscn:Severity>Critical</wscn:Severity>"
             "</wscn:DeviceCondition>")
STATUS = ("<wscn:ScannerStatus><wscn:ScannerCurrentTime>2024-01-02T03:04:05Z</wscn:ScannerCurrentTime>"
          "<wscn:ScannerState>Stopped</wscn:ScannerState><wscn:ActiveConditions>{conditions}"
          "</wscn:ActiveConditions></wscn:ScannerStatus>")


def elements_response(name_attrs: str, content: str) -> etree._Element:
    return x(f"<wscn:GetScannerElementsResponse><wscn:ScannerElements><wscn:ElementData {name_attrs}>{content}"
             "</wscn:ElementData></wscn:ScannerElements></wscn:GetScannerElementsResponse>")


def test_a_job_status_event_as_the_schema_has_it_passes():
    assert problems(x(f"<wscn:JobStatusEvent>{JOB_STATUS.format(reason='JobScanningAndTransfering')}"
                      "</wscn:JobStatusEvent>")) == []


@pytest.mark.parametrize("reason", ["JobScanningAndTransferring", "ImageTransferError"])
def test_a_job_state_reason_outside_the_list_is_caught(reason):
    [found] = problems(x(f"<wscn:JobStatusEvent>{JOB_STATUS.format(reason=reason)}</wscn:JobStatusEvent>"))
    assert "JobStateReason" in found and reason in found


def test_a_vendor_reason_in_its_own_namespace_passes():
    assert problems(x(f"<wscn:JobStatusEvent>{JOB_STATUS.format(reason='ihv:PaperLow')}</wscn:JobStatusEvent>")) \
        == []


def test_children_out_of_order_are_caught():
    body = x("<wscn:JobStatusEvent><wscn:JobStatus><wscn:JobState>Pending</wscn:JobState><wscn:JobId>7</wscn:JobId>"
             "<wscn:ScansCompleted>0</wscn:ScansCompleted></wscn:JobStatus></wscn:JobStatusEvent>")
    assert any("JobId is required here, found JobState" in p for p in problems(body))


def test_element_data_with_unprefixed_name_and_valid_passes():
    body = elements_response('Name="wscn:ScannerStatus" Valid="true"', STATUS.format(conditions=""))
    assert problems(body) == []


def test_element_data_with_prefixed_name_and_valid_is_caught():
    body = elements_response('wscn:Name="wscn:ScannerStatus" wscn:Valid="true"', STATUS.format(conditions=""))
    found = problems(body)
    assert any("wscn:Name does not belong here (a local attribute: write it unprefixed)" in p for p in found)
    assert any("the unqualified attribute Valid is required" in p for p in found)


def test_a_condition_id_must_be_unprefixed():
    good = elements_response('Name="wscn:ScannerStatus" Valid="true"',
                             STATUS.format(conditions=CONDITION.format(id='Id="3"', name="MediaJam")))
    bad = elements_response('Name="wscn:ScannerStatus" Valid="true"',
                            STATUS.format(conditions=CONDITION.format(id='wscn:Id="3"', name="MediaJam")))
    assert problems(good) == []
    assert any("the unqualified attribute Id is required" in p for p in problems(bad))


def test_a_condition_name_has_no_vendor_extension():
    body = elements_response('Name="wscn:ScannerStatus" Valid="true"',
                             STATUS.format(conditions=CONDITION.format(id='Id="3"', name="ihv:Smoke")))
    assert any("'ihv:Smoke' is not one of its keywords" in p for p in problems(body))


def test_valid_element_data_must_hold_the_element_it_names():
    body = elements_response('Name="wscn:ScannerDescription" Valid="true"', STATUS.format(conditions=""))
    assert any("must hold the wscn:ScannerDescription asked for" in p for p in problems(body))


def test_documents_without_a_document_are_caught():
    final = ("<wscn:DocumentFinalParameters><wscn:Format>png</wscn:Format></wscn:DocumentFinalParameters>")
    body = x("<wscn:GetJobElementsResponse><wscn:JobElements><wscn:ElementData Name=\"wscn:Documents\" "
             f"Valid=\"true\"><wscn:Documents>{final}</wscn:Documents></wscn:ElementData></wscn:JobElements>"
             "</wscn:GetJobElementsResponse>")
    found = problems(body)
    assert any("Documents: Document is required here" in p for p in found)
    assert any("CompressionQualityFactor is required here" in p for p in found)


def test_override_belongs_to_final_parameters_not_to_a_ticket():
    ticket = ("<wscn:ValidScanTicket><wscn:JobDescription><wscn:JobName>a</wscn:JobName>"
              "<wscn:JobOriginatingUserName>b</wscn:JobOriginatingUserName></wscn:JobDescription>"
              "<wscn:DocumentParameters><wscn:Format wscn:{attr}=\"true\">png</wscn:Format>"
              "</wscn:DocumentParameters></wscn:ValidScanTicket>")
    info = ("<wscn:ImageInformation><wscn:MediaFrontImageInfo><wscn:PixelsPerLine>1</wscn:PixelsPerLine>"
            "<wscn:NumberOfLines>1</wscn:NumberOfLines><wscn:BytesPerLine>0</wscn:BytesPerLine>"
            "</wscn:MediaFrontImageInfo></wscn:ImageInformation>")

    def response(attr):
        return x("<wscn:ValidateScanTicketResponse><wscn:ValidationInfo><wscn:ValidTicket>false</wscn:ValidTicket>"
                 f"{info}{ticket.format(attr=attr)}</wscn:ValidationInfo></wscn:ValidateScanTicketResponse>")
    assert problems(response("MustHonor")) == []
    assert any("wscn:Override does not belong here" in p for p in problems(response("Override")))


def test_a_scanner_name_over_127_characters_is_caught():
    body = x(f"<wscn:ScannerElementsChangeEvent><wscn:ElementChanges><wscn:ScannerDescription><wscn:ScannerName>"
             f"{'n' * 128}</wscn:ScannerName></wscn:ScannerDescription></wscn:ElementChanges>"
             "</wscn:ScannerElementsChangeEvent>")
    assert any("128 characters, more than 127" in p for p in problems(body))


def test_an_element_the_rules_do_not_know_is_caught():
    body = x("<wscn:CancelJobResponse><wscn:Surprise>1</wscn:Surprise></wscn:CancelJobResponse>")
    assert problems(body)


def fault(subcode: str, code: str = "Sender") -> etree._Element:
    return etree.fromstring(
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan"><s:Header>'
        '<a:Action>http://schemas.xmlsoap.org/ws/2004/08/addressing/fault</a:Action></s:Header><s:Body><s:Fault>'
        f'<s:Code><s:Value>s:{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>'
        '<s:Reason><s:Text xml:lang="en">why</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>')


def test_a_fault_from_the_list_passes():
    assert fault_problems(fault("wscn:ClientErrorFormatNotSupported")) == []


def test_the_format_fault_of_the_web_pages_is_caught():
    [found] = fault_problems(fault("wscn:ClientErrorDocumentFormatNotSupported"))
    assert "not in the scan service's fault list" in found


def test_a_server_error_sent_as_a_sender_fault_is_caught():
    assert fault_problems(fault("wscn:ServerErrorNotAcceptingJobs", "Sender"))
