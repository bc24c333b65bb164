"""ScannerStatus, JobInfo and ScanImageInfo from the core's status and job views."""

from lxml import etree

from gateway.escl import namespaces as ns
from gateway.escl.status import (
    JOB_STATE_REASONS, JOB_STATES, SCANNER_STATES, AdfState, JobEntry, adf_state, scan_image_info, scanner_state,
    scanner_status,
)
from gateway.escl.xml import serialize
from gateway.model import (
    Condition, ConditionComponent, ConditionName, ConditionSeverity, ImageInfo, JobState, JobStateReason,
    ScannerState, ScannerStatus,
)
from tests.escl.samples import NOW, job

NS = {"scan": ns.SCAN, "pwg": ns.PWG}
IDLE = ScannerStatus(time=NOW, state=ScannerState.IDLE)


def doc(element):
    return etree.fromstring(serialize(element))


def texts(el, path):
    return [e.text for e in el.xpath(path, namespaces=NS)]


def status_with(*names):
    conditions = tuple(Condition(i, name, ConditionComponent.ADF, ConditionSeverity.CRITICAL, NOW)
                       for i, name in enumerate(names))
    return ScannerStatus(time=NOW, state=ScannerState.STOPPED, conditions=conditions)


def entry(j, n=1):
    return JobEntry(f"/eSCL/ScanJobs/job{n}", f"00000000-0000-4000-8000-00000000000{n}", j)


def test_an_idle_scanner_without_a_feeder_says_version_and_idle_only():
    root = doc(scanner_status(IDLE, now=NOW))
    assert root.nsmap == NS
    assert [(etree.QName(e).localname, e.text) for e in root] == [("Version", ns.VERSION), ("State", "Idle")]


def test_scanner_states_are_escl_states():
    for state, word in (("Idle", "Idle"), ("Processing", "Processing"), ("Stopped", "Stopped")):
        root = doc(scanner_status(ScannerStatus(time=NOW, state=ScannerState(state)), now=NOW))
        assert texts(root, "pwg:State") == [word]
    assert set(SCANNER_STATES) == set(ScannerState)


def test_the_feeder_state_follows_the_state_element():
    root = doc(scanner_status(IDLE, adf=AdfState.EMPTY, now=NOW))
    assert [etree.QName(e).localname for e in root] == ["Version", "State", "AdfState"]
    assert texts(root, "scan:AdfState") == ["ScannerAdfEmpty"]


def test_a_feeder_is_loaded_unless_the_scanner_found_otherwise():
    assert adf_state(IDLE) is AdfState.LOADED


def test_a_feeder_is_empty_only_while_the_active_job_found_it_so():
    assert adf_state(IDLE, feeder_empty=True) is AdfState.EMPTY
    assert adf_state(status_with(ConditionName.INPUT_TRAY_EMPTY)) is AdfState.LOADED


def test_a_jammed_or_open_feeder_says_so():
    assert adf_state(status_with(ConditionName.MEDIA_JAM)) is AdfState.JAM
    assert adf_state(status_with(ConditionName.MULTIPLE_FEED_ERROR)) is AdfState.JAM
    assert adf_state(status_with(ConditionName.COVER_OPEN)) is AdfState.DOOR_OPEN
    assert adf_state(status_with(ConditionName.INPUT_TRAY_EMPTY, ConditionName.MEDIA_JAM), True) is AdfState.JAM


def test_the_state_is_processing_while_a_job_is_active_and_idle_otherwise():
    assert scanner_state(IDLE, job_active=True) == "Processing"
    assert scanner_state(IDLE, job_active=False) == "Idle"


def test_a_jam_or_open_cover_leaves_the_state_idle_so_a_new_job_may_clear_it():
    assert scanner_state(status_with(ConditionName.MEDIA_JAM), job_active=False) == "Idle"
    assert scanner_state(status_with(ConditionName.COVER_OPEN), job_active=False) == "Idle"


def test_a_scanner_that_failed_without_a_paper_condition_is_stopped():
    assert scanner_state(ScannerStatus(time=NOW, state=ScannerState.STOPPED), job_active=False) == "Stopped"


def test_a_running_job_is_listed_with_its_uri_uuid_age_images_and_state():
    root = doc(scanner_status(IDLE, [entry(job(scans=2, age=12))], now=NOW))
    info = root.find(f"{ns.scan('Jobs')}/{ns.scan('JobInfo')}")
    assert [(etree.QName(e).localname, e.text) for e in info][:7] == [
        ("JobUri", "/eSCL/ScanJobs/job1"), ("JobUuid", "00000000-0000-4000-8000-000000000001"), ("Age", "12"),
        ("ImagesCompleted", "2"), ("ImagesToTransfer", "1"), ("JobState", "Processing"), ("JobStateReasons", None)]
    assert texts(info, "pwg:JobStateReasons/pwg:JobStateReason") == ["JobScanning"]


def test_jobs_are_listed_in_the_order_given():
    jobs = [entry(job(job_id=2), 2), entry(job(state=JobState.COMPLETED,
                                               reasons=(JobStateReason.COMPLETED_SUCCESSFULLY,)), 1)]
    root = doc(scanner_status(IDLE, jobs, now=NOW))
    assert texts(root, "scan:Jobs/scan:JobInfo/pwg:JobUri") == ["/eSCL/ScanJobs/job2", "/eSCL/ScanJobs/job1"]
    assert texts(root, "scan:Jobs/scan:JobInfo/pwg:JobState") == ["Processing", "Completed"]
    assert texts(root, "scan:Jobs/scan:JobInfo/pwg:ImagesToTransfer") == ["1", "0"]


def test_a_job_cancelled_by_a_client_says_so():
    root = doc(scanner_status(IDLE, [entry(job(state=JobState.CANCELED, reasons=(JobStateReason.NONE,)))], now=NOW))
    assert texts(root, "//pwg:JobState") == ["Canceled"]
    assert texts(root, "//pwg:JobStateReason") == ["JobCanceledByUser"]


def test_a_job_cancelled_at_the_scanner_says_that_instead():
    j = job(state=JobState.CANCELED, reasons=(JobStateReason.CANCELED_AT_DEVICE,))
    assert texts(doc(scanner_status(IDLE, [entry(j)], now=NOW)), "//pwg:JobStateReason") == ["JobCanceledAtDevice"]


def test_a_timed_out_job_was_aborted_by_the_system():
    j = job(state=JobState.ABORTED, reasons=(JobStateReason.TIMED_OUT,))
    root = doc(scanner_status(IDLE, [entry(j)], now=NOW))
    assert texts(root, "//pwg:JobState") == ["Aborted"]
    assert texts(root, "//pwg:JobStateReason") == ["AbortedBySystem"]


def test_every_job_state_and_every_reason_but_none_has_an_escl_word():
    assert set(JOB_STATES) == set(JobState)
    assert set(JOB_STATE_REASONS) | {JobStateReason.NONE} == set(JobStateReason)


def test_a_reason_is_said_once_even_when_two_core_reasons_share_its_word():
    j = job(reasons=(JobStateReason.SCANNING, JobStateReason.SCANNING_AND_TRANSFERRING))
    assert texts(doc(scanner_status(IDLE, [entry(j)], now=NOW)), "//pwg:JobStateReason") == ["JobScanning"]


def test_scan_image_info_gives_the_delivered_image_size():
    root = doc(scan_image_info(entry(job()), ImageInfo(pixels_per_line=2480, lines=3507, bytes_per_line=7440)))
    assert etree.QName(root).localname == "ScanImageInfo"
    assert [(etree.QName(e).localname, e.text) for e in root] == [
        ("JobUri", "/eSCL/ScanJobs/job1"), ("JobUuid", "00000000-0000-4000-8000-000000000001"),
        ("ActualWidth", "2480"), ("ActualHeight", "3507"), ("ActualBytesPerLine", "7440")]
