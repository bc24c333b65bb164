"""WS-Eventing: subscriptions managed for real, events delivered to a real twisted.web sink."""

import subprocess
import sys
import time

import pytest
from lxml import etree

from gateway.wsd import namespaces as ns
from tests.support.airscan import client_config, scanimage
from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.sinks import WINDOWS_CONTEXTS, EventSink, manage, subscribe
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket

STATUS_AND_JOB_EVENTS = ("ScannerStatusSummaryEvent", "ScannerStatusConditionEvent",
                         "ScannerStatusConditionClearedEvent", "JobStatusEvent", "JobEndStateEvent",
                         "ScannerElementsChangeEvent")
W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"


def body(event) -> etree._Element:
    return etree.fromstring(event["body"])


def of(sink, name):
    return [body(e) for e in sink.events if e.get("action", "").endswith("/" + name)]


def test_subscribe_like_windows_gets_a_manager_an_expiry_and_a_token_per_destination(gateway):
    with EventSink() as sink:
        r = subscribe(gateway.scan_url, sink.url, ("ScanAvailableEvent",),
                      destinations=tuple(("PC-TEST", c) for c in WINDOWS_CONTEXTS), expires="PT1H")
        assert r.status == 200, r.body
        assert r.text(".//wsa:Action") == ns.SUBSCRIBE_RESPONSE_ACTION
        assert r.text(".//wse:SubscriptionManager/wsa:Address") == gateway.scan_url
        assert r.text(".//wse:Expires") == "PT3600S"
        responses = r.xml.findall(f".//{W}DestinationResponse")
        assert [x.findtext(W + "ClientContext") for x in responses] == list(WINDOWS_CONTEXTS)
        tokens = [x.findtext(W + "DestinationToken") for x in responses]
        assert len(set(tokens)) == 5 and all(len(t) >= 16 for t in tokens)


def test_a_scan_through_sane_airscan_sends_status_and_job_events_in_order(gateway, tmp_path):
    with EventSink() as sink:
        assert subscribe(gateway.scan_url, sink.url, STATUS_AND_JOB_EVENTS, identifier_param="sub-7").status == 200
        client = client_config(tmp_path, gateway.scan_url)
        result = scanimage(client, "--mode", "Gray", "--resolution", "75", "-x", "50", "-y", "50", "--format=png",
                           "-o", str(tmp_path / "x.png"))
        assert result.returncode == 0
        assert sink.wait_for(lambda ev: any(e["action"].endswith("JobEndStateEvent") for e in ev) and
                             sum(e["action"].endswith("ScannerStatusSummaryEvent") for e in ev) >= 2)
        names = sink.actions()
        assert names.index("JobEndStateEvent") > max(i for i, n in enumerate(names) if n == "JobStatusEvent")
        states = [b.findtext(f"{W}JobStatus/{W}JobState") for b in of(sink, "JobStatusEvent")]
        assert states[0] == "Pending" and states[-1] == "Completed" and "Processing" in states
        [end] = of(sink, "JobEndStateEvent")
        assert end.findtext(f"{W}JobEndState/{W}JobCompletedState") == "Completed"
        assert end.findtext(f"{W}JobEndState/{W}ScansCompleted") == "1"
        summaries = [b.findtext(f"{W}StatusSummary/{W}ScannerState") for b in of(sink, "ScannerStatusSummaryEvent")]
        assert summaries[:2] == ["Processing", "Idle"]
        assert all("sub-7" in e["header_xml"] for e in sink.events)


def test_renew_extends_and_get_status_reports_the_expiry(gateway):
    with EventSink() as sink:
        r = subscribe(gateway.scan_url, sink.url, ("JobStatusEvent",), expires="PT60S")
        assert r.text(".//wse:Expires") == "PT60S"
        renewed = manage(r, ns.RENEW_ACTION, "Renew", expires="PT600S")
        assert renewed.status == 200 and renewed.text(".//wse:Expires") == "PT600S"
        status = manage(r, ns.GET_STATUS_ACTION, "GetStatus")
        left = int(status.text(".//wse:Expires")[2:-1])
        assert 590 <= left <= 600


def test_unsubscribe_stops_the_events(gateway):
    with EventSink() as sink:
        r = subscribe(gateway.scan_url, sink.url, ("JobStatusEvent",))
        unsubscribed = manage(r, ns.UNSUBSCRIBE_ACTION, "Unsubscribe")
        assert unsubscribed.status == 200 and len(unsubscribed.find(".//s:Body")) == 0
        job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
        retrieve(gateway.scan_url, job_id, token)
        time.sleep(1.0)
        assert sink.events == []
        assert manage(r, ns.GET_STATUS_ACTION, "GetStatus").fault_subcode == "wsa:DestinationUnreachable"


def test_an_expired_subscription_is_dropped(gateway):
    with EventSink() as sink:
        r = subscribe(gateway.scan_url, sink.url, ("JobStatusEvent",), expires="PT1S")
        time.sleep(1.5)
        assert manage(r, ns.GET_STATUS_ACTION, "GetStatus").fault_subcode == "wsa:DestinationUnreachable"
        job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
        retrieve(gateway.scan_url, job_id, token)
        time.sleep(1.0)
        assert sink.events == []


def test_an_event_that_is_not_offered_is_filter_action_not_supported(gateway):
    r = subscribe(gateway.scan_url, "http://127.0.0.1:9/x", ("http://example.org/CoffeeReadyEvent",))
    assert r.status == 400 and r.fault_subcode == "wsdp:FilterActionNotSupported"


def test_an_unknown_filter_dialect_is_refused(gateway):
    r = subscribe(gateway.scan_url, "http://127.0.0.1:9/x", ("JobStatusEvent",), dialect="http://example.org/x")
    assert r.fault_subcode == "wse:FilteringRequestedUnavailable"


def test_a_client_over_its_subscription_limit_loses_its_oldest_subscription(fresh_gateway):
    with EventSink() as ends:
        replies = [subscribe(fresh_gateway.scan_url, "http://127.0.0.1:9/x", ("JobStatusEvent",),
                             end_to=ends.url) for _ in range(9)]
        assert [r.status for r in replies] == [200] * 9
        assert manage(replies[0], ns.GET_STATUS_ACTION, "GetStatus").fault_subcode == "wsa:DestinationUnreachable"
        assert all(manage(r, ns.GET_STATUS_ACTION, "GetStatus").status == 200 for r in replies[1:])
        assert ends.wait_for(lambda ev: len(ev) == 1)
        assert body(ends.events[0]).findtext(ns.qname(ns.WSE, "Status")) == ns.WSE + "/SourceCancelling"


def test_a_jam_is_a_condition_event_and_ends_the_job_aborted(tmp_path):
    with GatewayProcess(tmp_path / "gw", test_conf='geometry_max 300.0\nread-status-code "SANE_STATUS_JAMMED"\n') \
            as gw, EventSink() as sink:
        subscribe(gw.scan_url, sink.url, STATUS_AND_JOB_EVENTS)
        job_id, token = job_of(create_job(gw.scan_url, ticket(dpi=75)))
        assert retrieve(gw.scan_url, job_id, token).status == 500
        assert sink.wait_for(lambda ev: any(e["action"].endswith("ScannerStatusConditionEvent") for e in ev) and
                             any(e["action"].endswith("JobEndStateEvent") for e in ev))
        [condition] = of(sink, "ScannerStatusConditionEvent")
        assert condition.findtext(f"{W}DeviceCondition/{W}Name") == "MediaJam"
        assert condition.find(f"{W}DeviceCondition").get("Id")
        [end] = of(sink, "JobEndStateEvent")
        assert end.findtext(f"{W}JobEndState/{W}JobCompletedState") == "Aborted"
        assert end.findtext(f"{W}JobEndState/{W}JobCompletedStateReasons/{W}JobStateReason") == \
            "JobCompletedWithErrors"


def test_subscription_end_is_sent_to_end_to_when_the_gateway_stops(tmp_path):
    with EventSink() as sink:
        with GatewayProcess(tmp_path) as gw:
            r = subscribe(gw.scan_url, sink.url, ("JobStatusEvent",), end_to=sink.url + "/end")
            assert r.status == 200
        assert sink.wait_for(lambda ev: any(e["action"] == ns.SUBSCRIPTION_END_ACTION for e in ev), timeout=10)
        [end] = [e for e in sink.events if e["action"] == ns.SUBSCRIPTION_END_ACTION]
        assert end["path"] == "/sink/end"
        assert body(end).findtext(ns.qname(ns.WSE, "Status")) == ns.WSE + "/SourceShuttingDown"


def test_a_hanging_or_refusing_sink_delays_neither_the_scan_nor_other_sinks(gateway):
    with EventSink(mode="hang") as hanging, EventSink() as good:
        subscribe(gateway.scan_url, hanging.url, STATUS_AND_JOB_EVENTS)
        subscribe(gateway.scan_url, "http://127.0.0.1:9/refused", STATUS_AND_JOB_EVENTS)
        subscribe(gateway.scan_url, good.url, STATUS_AND_JOB_EVENTS)
        for _ in range(2):
            job_id, token = job_of(create_job(gateway.scan_url, ticket(dpi=75)))
            assert retrieve(gateway.scan_url, job_id, token, ).status == 200
        assert good.wait_for(lambda ev: sum(e["action"].endswith("JobEndStateEvent") for e in ev) == 2, timeout=10)
        assert len(hanging.events) < len(good.events)  # one unanswered event at a time, then retries


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=30,
                          cwd=ROOT)


def test_push_scan_reaches_the_chosen_destination_and_its_job_is_accepted(gateway):
    with EventSink() as pc, EventSink() as other:
        r = subscribe(gateway.scan_url, pc.url, ("ScanAvailableEvent",),
                      destinations=tuple(("PC-TEST", c) for c in WINDOWS_CONTEXTS))
        subscribe(gateway.scan_url, other.url, ("ScanAvailableEvent",), destinations=(("OTHER-PC", "Scan"),))
        tokens = {x.findtext(W + "ClientContext"): x.findtext(W + "DestinationToken")
                  for x in r.xml.iter(W + "DestinationResponse")}
        pushed = run_cli("push", "--port", str(gateway.port), "--state-dir", str(gateway.state), "test:0", "PC-TEST")
        assert pushed.returncode == 0, pushed.stderr
        assert pc.wait_for(lambda ev: len(ev) == 1)
        [event] = of(pc, "ScanAvailableEvent")
        context = event.findtext(W + "ClientContext")
        identifier = event.findtext(W + "ScanIdentifier")
        assert context in tokens and identifier
        time.sleep(0.5)
        assert other.events == []
        created = call(gateway.scan_url, "CreateScanJob", el(
            "CreateScanJobRequest", el("ScanIdentifier", text=identifier),
            el("DestinationToken", text=tokens[context]), ticket(dpi=75)))
        assert created.status == 200
        job_id, token = job_of(created)
        assert retrieve(gateway.scan_url, job_id, token).image.startswith(b"\x89PNG")


def test_push_scan_with_a_wrong_identifier_or_token_is_refused(gateway):
    with EventSink() as pc:
        r = subscribe(gateway.scan_url, pc.url, ("ScanAvailableEvent",), destinations=(("PC-X", "Scan"),))
        token = r.text(".//wscn:DestinationToken")
        assert run_cli("push", "--port", str(gateway.port), "--state-dir", str(gateway.state), "test:0", "PC-X").returncode == 0
        assert pc.wait_for(lambda ev: len(ev) == 1)
        identifier = of(pc, "ScanAvailableEvent")[0].findtext(W + "ScanIdentifier")

        def create(ident, tok):
            return call(gateway.scan_url, "CreateScanJob", el("CreateScanJobRequest", el("ScanIdentifier", text=ident),
                        el("DestinationToken", text=tok), ticket(dpi=75)))
        assert create("urn:uuid:not-it", token).fault_subcode == "wscn:ClientErrorInvalidScanIdentifier"
        assert create(identifier, "not-the-token").fault_subcode == "wscn:ClientErrorInvalidDestinationToken"
        ok = create(identifier, token)
        assert ok.status == 200
        call(gateway.scan_url, "CancelJob", el("CancelJobRequest", el("JobId", text=job_of(ok)[0])))
        assert create(identifier, token).fault_subcode == "wscn:ClientErrorInvalidScanIdentifier"


def test_push_to_an_unknown_destination_says_which_are_known(gateway):
    r = run_cli("push", "--port", str(gateway.port), "--state-dir", str(gateway.state), "test:0", "NOBODY")
    assert r.returncode == 1 and "NOBODY" in r.stderr


def test_a_new_name_in_the_config_is_announced_with_scanner_elements_change_event(tmp_path):
    import signal
    with GatewayProcess(tmp_path) as gw, EventSink() as sink:
        subscribe(gw.scan_url, sink.url, ("ScannerElementsChangeEvent",))
        config = tmp_path / "gateway.conf"
        config.write_text(config.read_text() + "\n[scanner:test:*]\nname = Front desk\nlocation = Hall\n")
        gw.proc.send_signal(signal.SIGHUP)
        assert sink.wait_for(lambda ev: len(ev) == 1)
        [change] = of(sink, "ScannerElementsChangeEvent")
        assert change.findtext(f"{W}ElementChanges/{W}ScannerDescription/{W}ScannerName") == "Front desk"
        assert change.findtext(f"{W}ElementChanges/{W}ScannerDescription/{W}ScannerLocation") == "Hall"
        assert change.find(f"{W}ElementChanges/{W}ScannerConfiguration/{W}DeviceSettings") is not None
        description = call(gw.scan_url, "GetScannerElements", el("GetScannerElementsRequest", el(
            "RequestedElements", el("Name", text="wscn:ScannerDescription"))))
        assert description.text(".//wscn:ScannerName") == "Front desk"


def button_gateway(tmp_path):
    entry = [sys.executable, str(ROOT / "tests" / "support" / "button_gateway.py")]
    return GatewayProcess(tmp_path, entry=entry)


def test_pressing_the_scan_button_offers_a_push_scan_to_the_registered_pc(tmp_path, monkeypatch):
    button = tmp_path / "button-pressed"
    monkeypatch.setenv("SANE_WSD_TEST_BUTTON", str(button))
    with button_gateway(tmp_path / "gw") as gw, EventSink() as pc:
        subscribe(gw.scan_url, pc.url, ("ScanAvailableEvent",), destinations=(("PC-BUTTON", "Scan"),))
        assert "has buttons or sensors: cover-open, scan" in gw.log()
        time.sleep(1.5)
        button.touch()
        assert pc.wait_for(lambda ev: len(ev) == 1, timeout=10), gw.log()
        assert of(pc, "ScanAvailableEvent")[0].findtext(W + "ClientContext") == "Scan"


def test_an_open_cover_is_a_condition_until_it_closes(tmp_path, monkeypatch):
    cover = tmp_path / "cover-open"
    monkeypatch.setenv("SANE_WSD_TEST_COVER", str(cover))
    with button_gateway(tmp_path / "gw") as gw, EventSink() as sink:
        subscribe(gw.scan_url, sink.url, STATUS_AND_JOB_EVENTS)
        cover.touch()
        assert sink.wait_for(lambda ev: any(e["action"].endswith("ScannerStatusConditionEvent") for e in ev), 10)
        [condition] = of(sink, "ScannerStatusConditionEvent")
        assert condition.findtext(f"{W}DeviceCondition/{W}Name") == "CoverOpen"
        cover.unlink()
        assert sink.wait_for(lambda ev: any(e["action"].endswith("ConditionClearedEvent") for e in ev), 10)
        [cleared] = of(sink, "ScannerStatusConditionClearedEvent")
        assert cleared.findtext(f"{W}DeviceConditionCleared/{W}ConditionId") == \
            condition.find(f"{W}DeviceCondition").get("Id")


def test_the_status_page_shows_subscribers_and_destinations(fresh_gateway):
    with EventSink() as pc:
        subscribe(fresh_gateway.scan_url, pc.url, ("ScanAvailableEvent",), destinations=(("PC-PAGE", "Scan"),))
        page = fresh_gateway.get("/").decode()
    assert "1 from 127.0.0.1" in page and "PC-PAGE" in page


def test_push_without_the_token_is_refused_even_from_this_machine(gateway):
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.port}/push", data=b"scanner=test:0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 403
