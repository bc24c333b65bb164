"""Every event the gateway sends follows the WS-Scan rules, in every state it reports."""

import signal
import subprocess
import sys

from gateway.wsd import namespaces as ns
from tests.conformance.conftest import ALL_EVENTS, assert_conforms, events_of
from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.sinks import EventSink, subscribe
from tests.support.soap_client import call, create_job, el, job_of, open_retrieve, retrieve, ticket

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"
SMALL = dict(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 500, 500))


def a_job(gw, **kw):
    return job_of(create_job(gw.scan_url, ticket(**{**SMALL, **kw})))


def wait_for(sink, name, count=1, timeout=20):
    assert sink.wait_for(lambda ev: sum(e.get("action", "").endswith("/" + name) for e in ev) >= count, timeout), \
        f"no {name} among {sink.actions()}"
    return events_of(sink, name)


def check_all(label, bodies):
    for body in bodies:
        assert_conforms(label, body)


def job_states(sink):
    return [(b.findtext(f"{W}JobStatus/{W}JobState"), b.findtext(f"{W}JobStatus/{W}JobStateReasons/{W}JobStateReason"))
            for b in events_of(sink, "JobStatusEvent")]


def end_state(sink):
    [end] = wait_for(sink, "JobEndStateEvent")
    return end, (end.findtext(f"{W}JobEndState/{W}JobCompletedState"),
                 end.findtext(f"{W}JobEndState/{W}JobCompletedStateReasons/{W}JobStateReason"))


def test_the_events_of_a_completed_job_follow_the_rules(switched, sink):
    job_id, token = a_job(switched)
    assert retrieve(switched.scan_url, job_id, token).status == 200
    end, state = end_state(sink)
    assert state == ("Completed", "JobCompletedSuccessfully")
    assert job_states(sink) == [("Pending", "None"), ("Processing", "JobScanningAndTransfering"),
                                ("Completed", "JobCompletedSuccessfully")]
    check_all("JobStatusEvent completed job", events_of(sink, "JobStatusEvent"))
    assert_conforms("JobEndStateEvent completed", end)


def test_status_summaries_follow_the_rules(switched, sink):
    job_id, token = a_job(switched)
    retrieve(switched.scan_url, job_id, token)
    summaries = wait_for(sink, "ScannerStatusSummaryEvent", count=2)
    assert [s.findtext(f"{W}StatusSummary/{W}ScannerState") for s in summaries][:2] == ["Processing", "Idle"]
    check_all("ScannerStatusSummaryEvent", summaries)


def test_a_feeder_job_between_its_pages_is_started_and_follows_the_rules(switched, sink):
    job_id, token = a_job(switched, source="ADF", images=2)
    assert retrieve(switched.scan_url, job_id, token).status == 200
    assert sink.wait_for(lambda ev: ("Started", "None") in job_states(sink))
    assert retrieve(switched.scan_url, job_id, token).status == 200
    end_state(sink)
    check_all("JobStatusEvent feeder job", events_of(sink, "JobStatusEvent"))


def test_the_events_of_a_job_cancelled_while_scanning_follow_the_rules(switched, sink):
    job_id, token = a_job(switched, color="RGB24", dpi=300, region=(0, 0, 8500, 11000))
    conn, response = open_retrieve(switched.scan_url, job_id, token)
    try:
        response.read(1024)
        assert call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_id))).status == 200
        end, state = end_state(sink)
    finally:
        conn.close()
    assert state == ("Canceled", "None")
    assert ("Terminating", "None") in job_states(sink)
    check_all("JobStatusEvent cancelled job", events_of(sink, "JobStatusEvent"))
    assert_conforms("JobEndStateEvent cancelled", end)


def test_the_events_of_a_jammed_job_and_its_condition_follow_the_rules(switched, sink):
    switched.jam.write_text("SANE_STATUS_JAMMED")
    try:
        job_id, token = a_job(switched)
        assert retrieve(switched.scan_url, job_id, token).fault_subcode == "wscn:OperationFailed"
        end, state = end_state(sink)
        [condition] = wait_for(sink, "ScannerStatusConditionEvent")
    finally:
        switched.jam.unlink()
    assert state == ("Aborted", "JobCompletedWithErrors")
    assert condition.findtext(f"{W}DeviceCondition/{W}Name") == "MediaJam"
    assert_conforms("ScannerStatusConditionEvent", condition)
    assert_conforms("JobEndStateEvent aborted", end)
    check_all("JobStatusEvent aborted job", events_of(sink, "JobStatusEvent"))
    job_id, token = a_job(switched)
    assert retrieve(switched.scan_url, job_id, token).status == 200
    [cleared] = wait_for(sink, "ScannerStatusConditionClearedEvent")
    assert cleared.findtext(f"{W}DeviceConditionCleared/{W}ConditionId") == \
        condition.find(f"{W}DeviceCondition").get("Id")
    assert_conforms("ScannerStatusConditionClearedEvent", cleared)


def test_the_events_of_a_timed_out_job_follow_the_rules(switched, sink):
    a_job(switched)
    end, state = end_state(sink)
    assert state == ("Aborted", "JobTimedOut")
    assert_conforms("JobEndStateEvent timed out", end)
    check_all("JobStatusEvent timed out job", events_of(sink, "JobStatusEvent"))


def test_a_spooled_scan_reports_scanning_by_the_rules(tmp_path):
    with GatewayProcess(tmp_path, config="image_transfer = length\n") as gw, EventSink() as sink:
        subscribe(gw.scan_url, sink.url, ALL_EVENTS)
        job_id, token = a_job(gw)
        retrieve(gw.scan_url, job_id, token)
        end_state(sink)
    assert ("Processing", "JobScanning") in job_states(sink)
    check_all("JobStatusEvent spooled", events_of(sink, "JobStatusEvent"))


def test_a_changed_description_is_announced_by_the_rules(tmp_path):
    with GatewayProcess(tmp_path) as gw, EventSink() as sink:
        subscribe(gw.scan_url, sink.url, ("ScannerElementsChangeEvent",))
        config = tmp_path / "gateway.conf"
        config.write_text(config.read_text() + "\n[scanner:test:*]\nname = Front desk\nlocation = Hall\n")
        gw.proc.send_signal(signal.SIGHUP)
        [change] = wait_for(sink, "ScannerElementsChangeEvent")
    assert change.findtext(f"{W}ElementChanges/{W}ScannerDescription/{W}ScannerName") == "Front desk"
    assert_conforms("ScannerElementsChangeEvent", change)


def test_a_push_scan_offer_and_its_job_follow_the_rules(switched):
    with EventSink() as pc:
        r = subscribe(switched.scan_url, pc.url, ("ScanAvailableEvent",), destinations=(("PC-EVENTS", "Scan"),))
        assert_conforms("SubscribeResponse with destinations", r)
        token = r.text(".//wscn:DestinationToken")
        pushed = subprocess.run([sys.executable, "-m", "gateway", "push", "--port", str(switched.port),
                                 "--state-dir", str(switched.state), "test:0", "PC-EVENTS"],
                                capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert pushed.returncode == 0, pushed.stderr
        [offer] = wait_for(pc, "ScanAvailableEvent")
    assert_conforms("ScanAvailableEvent", offer)
    created = call(switched.scan_url, "CreateScanJob", el(
        "CreateScanJobRequest", el("ScanIdentifier", text=offer.findtext(W + "ScanIdentifier")),
        el("DestinationToken", text=token), ticket(**SMALL)))
    assert_conforms("CreateScanJob push scan", created)
    call(switched.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_of(created)[0])))


def test_the_events_checked_here_are_every_event_the_gateway_offers():
    assert set(ns.SCAN_EVENTS) == set(ALL_EVENTS)
