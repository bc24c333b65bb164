"""Scanner status from SANE errors, and the events that tell its changes."""

from gateway.model import ConditionName, ScannerState, ScannerStateReason
from gateway.scanner.saneapi import Status
from gateway.scanner.status import StatusTracker
from gateway.wsd.scan_messages.events import status_change_events

W = "{http://schemas.microsoft.com/windows/2006/08/wdp/scan}"


def test_a_jam_stops_the_scanner_with_a_media_jam_condition():
    t = StatusTracker()
    t.sane_error(Status.JAMMED)
    s = t.current()
    assert s.state is ScannerState.STOPPED and s.reasons == (ScannerStateReason.MEDIA_JAM,)
    assert [c.name for c in s.conditions] == [ConditionName.MEDIA_JAM]


def test_the_next_page_that_starts_clears_the_condition_into_history():
    t = StatusTracker()
    t.sane_error(Status.COVER_OPEN)
    [cond] = t.current().conditions
    t.page_started()
    s = t.current()
    assert s.state is ScannerState.IDLE and s.conditions == ()
    assert [c.id for c, _cleared in s.history] == [cond.id]


def test_condition_ids_are_never_reused():
    t = StatusTracker()
    ids = []
    for _ in range(3):
        t.sane_error(Status.JAMMED)
        ids.append(t.current().conditions[0].id)
        t.page_started()
    assert len(set(ids)) == 3


def test_a_new_condition_gives_a_summary_and_a_condition_event():
    t = StatusTracker()
    before = t.current()
    t.sane_error(Status.JAMMED)
    names = [n for n, _ in status_change_events(before, t.current())]
    assert names == ["ScannerStatusSummaryEvent", "ScannerStatusConditionEvent"]


def test_a_cleared_condition_gives_a_cleared_event_with_its_id():
    t = StatusTracker()
    t.sane_error(Status.JAMMED)
    before = t.current()
    t.page_started()
    events = {name: build() for name, build in status_change_events(before, t.current())}
    cleared = events["ScannerStatusConditionClearedEvent"]
    assert cleared.findtext(f"{W}DeviceConditionCleared/{W}ConditionId") == str(before.conditions[0].id)
    assert events["ScannerStatusSummaryEvent"].findtext(f"{W}StatusSummary/{W}ScannerState") == "Idle"


def test_no_change_no_event():
    t = StatusTracker()
    assert status_change_events(t.current(), t.current()) == []
