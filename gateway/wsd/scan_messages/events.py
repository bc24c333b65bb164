"""The WS-Scan events' bodies, and which events a change of ScannerStatus makes."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from lxml import etree

from gateway.model import Capabilities, Condition, FinalParameters, JobView, ScannerStatus
from gateway.wsd.scan_messages.elements import device_condition, scanner_configuration, scanner_description
from gateway.wsd.scan_messages.jobs import job_status
from gateway.wsd.scan_messages.tickets import default_scan_ticket
from gateway.wsd.scan_messages.wscn import element, limited, sub, sub_list, time_text


def status_summary_event(status: ScannerStatus) -> etree._Element:
    el = element("ScannerStatusSummaryEvent")
    summary = sub(el, "StatusSummary")
    sub(summary, "ScannerState", status.state)
    sub_list(summary, "ScannerStateReasons", "ScannerStateReason", status.reasons)
    return el


def condition_event(condition: Condition) -> etree._Element:
    el = element("ScannerStatusConditionEvent")
    device_condition(el, "DeviceCondition", condition)
    return el


def condition_cleared_event(condition_id: int, cleared: datetime) -> etree._Element:
    el = element("ScannerStatusConditionClearedEvent")
    c = sub(el, "DeviceConditionCleared")
    sub(c, "ConditionId", condition_id)
    sub(c, "ConditionClearTime", time_text(cleared))
    return el


def job_status_event(job: JobView) -> etree._Element:
    el = element("JobStatusEvent")
    el.append(job_status(job))
    return el


def job_end_state_event(job: JobView) -> etree._Element:
    el = element("JobEndStateEvent")
    end = sub(el, "JobEndState")
    sub(end, "JobId", job.id)
    sub(end, "JobCompletedState", job.state)
    sub_list(end, "JobCompletedStateReasons", "JobStateReason", job.reasons)
    sub(end, "JobName", limited(job.ticket.description.name))
    sub(end, "JobOriginatingUserName", limited(job.ticket.description.user))
    sub(end, "ScansCompleted", job.images_done)
    sub(end, "JobCompletedTime", time_text(job.completed or job.created))
    return el


def scan_available_event(client_context: str, scan_identifier: str) -> etree._Element:
    el = element("ScanAvailableEvent")
    sub(el, "ClientContext", limited(client_context))
    sub(el, "ScanIdentifier", limited(scan_identifier))
    return el


def elements_change_event(caps: Capabilities, defaults: FinalParameters) -> etree._Element:
    el = element("ScannerElementsChangeEvent")
    changes = sub(el, "ElementChanges")
    changes.append(scanner_description(caps))
    changes.append(scanner_configuration(caps))
    changes.append(default_scan_ticket(defaults))
    return el


def status_change_events(old: ScannerStatus, new: ScannerStatus) -> list[tuple[str, Callable[[], etree._Element]]]:
    """The events that tell a change of ScannerStatus (summary, conditions added, cleared), as body builders."""
    events: list[tuple[str, Callable[[], etree._Element]]] = []
    if (old.state, old.reasons) != (new.state, new.reasons):
        events.append(("ScannerStatusSummaryEvent", lambda: status_summary_event(new)))
    old_ids = {c.id for c in old.conditions}
    new_ids = {c.id for c in new.conditions}
    events += [("ScannerStatusConditionEvent", lambda c=c: condition_event(c))
               for c in new.conditions if c.id not in old_ids]
    events += [("ScannerStatusConditionClearedEvent", lambda c=c: condition_cleared_event(c.id, new.time))
               for c in old.conditions if c.id not in new_ids]
    return events
