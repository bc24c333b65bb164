"""What the status page concludes from what the gateway saw: the recorder, the policy's reasons, the checklist."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gateway.activity import MAX_REFUSED, Activity, Refusal, Sighting
from gateway.announce import AnnouncerState, AnnouncerStatus
from gateway.netpolicy import NetworkPolicy
from gateway.web.diagnostics import Diagnostics, InterfaceView, ScannerSigns, checklist

T = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
SEEN = Sighting(T, "192.168.1.40")
SERVED = InterfaceView("end0", ("192.168.1.5",), SEEN)


def diagnostics(**changes) -> Diagnostics:
    values = dict(port=8765, discovery=True, interfaces=(SERVED,))
    values.update(changes)
    return Diagnostics(**values)


def installed(name="Flatbed") -> ScannerSigns:
    return ScannerSigns(name, SEEN, 1)


def test_the_recorder_keeps_the_last_probe_per_interface_and_the_last_fetch_per_scanner():
    activity = Activity(clock=lambda: T)
    activity.probe_seen("end0", "192.168.1.40")
    activity.probe_seen("end0", "192.168.1.41")
    activity.metadata_fetched("uuid-1", "192.168.1.41")
    assert activity.last_probe("end0") == Sighting(T, "192.168.1.41") and activity.last_probe("wlan0") is None
    assert activity.last_fetch("uuid-1").peer == "192.168.1.41" and activity.last_fetch("uuid-2") is None


def test_the_recorder_counts_refusals_per_client_and_keeps_only_the_latest_few():
    activity = Activity(clock=lambda: T)
    for i in range(MAX_REFUSED + 3):
        activity.refused(f"10.0.0.{i}", "192.168.1.5", "off-link")
    activity.refused("10.0.0.5", "192.168.1.5", "off-link")
    refusals = activity.refusals()
    assert len(refusals) == MAX_REFUSED
    assert (refusals[0].peer, refusals[0].count) == ("10.0.0.5", 2)


def test_the_policy_says_why_an_off_link_client_is_refused_and_tells_the_recorder():
    told = []
    policy = NetworkPolicy()
    policy.on_refused = lambda *args: told.append(args)
    reason = policy.refusal("172.31.9.9", "127.0.0.1")
    assert "allowed_networks" in reason and told == [("172.31.9.9", "127.0.0.1", reason)]


def test_the_policy_refuses_nobody_it_serves_and_tells_nothing():
    told = []
    policy = NetworkPolicy(allowed_networks=["172.31.0.0/16"])
    policy.on_refused = lambda *args: told.append(args)
    assert policy.refusal("172.31.9.9", "127.0.0.1") is None and policy.refusal("127.0.0.1", "::1") is None
    assert told == []


def test_a_client_that_reached_an_interface_not_served_is_told_so():
    policy = NetworkPolicy(interfaces=["lo"])
    assert "not served" in policy.refusal("127.0.0.1", "203.0.113.9")


def test_nothing_is_left_to_check_when_every_sign_is_there():
    assert checklist(diagnostics(), [installed()]) == []


def test_no_scanner_points_at_scanimage():
    assert "scanimage -L" in checklist(diagnostics(), [])[0]


def test_discovery_off_is_said_first():
    [item] = checklist(diagnostics(discovery=False), [installed()])
    assert item.startswith("Discovery is off")


def test_an_interface_without_a_probe_asks_about_the_network_and_its_profile():
    [item] = checklist(diagnostics(interfaces=(InterfaceView("end0", ("192.168.1.5",)),)), [installed()])
    assert "No PC has looked for scanners on end0 yet" in item and "Private" in item


def test_every_silent_interface_is_named_in_one_sentence():
    quiet = (InterfaceView("end0", ("192.168.1.5",)), InterfaceView("wlan0", ("192.168.1.6",)))
    [item] = checklist(diagnostics(interfaces=quiet), [installed()])
    assert "on end0 or wlan0 yet" in item


def test_a_probe_on_one_interface_is_enough():
    assert checklist(diagnostics(interfaces=(SERVED, InterfaceView("docker0", ("172.17.0.1",)))),
                     [installed()]) == []


def test_an_interface_without_an_address_says_so():
    [item] = checklist(diagnostics(interfaces=(SERVED, InterfaceView("wlan0", ()))), [installed()])
    assert item.startswith("wlan0 has no address")


def test_a_probe_without_a_metadata_read_points_at_the_firewall_port():
    [item] = checklist(diagnostics(), [ScannerSigns("Flatbed", None, 0)])
    assert "192.168.1.40" in item and "Flatbed" in item and "8765" in item and "firewall" in item


def test_a_scanner_found_but_not_installed_says_how_to_add_it():
    [item] = checklist(diagnostics(), [ScannerSigns("Flatbed", SEEN, 0)])
    assert "has not installed it" in item and "Add device" in item


def test_each_refused_client_is_listed_with_its_reason():
    refusal = Refusal(T, "10.9.9.9", "192.168.1.5", "not on a served network: add it to allowed_networks", 3)
    [item] = checklist(diagnostics(refusals=(refusal,)), [installed()])
    assert item.startswith("10.9.9.9 was turned away (3x)") and "allowed_networks" in item


@pytest.mark.parametrize("state, listed", [(AnnouncerState.UNAVAILABLE, True), (AnnouncerState.ANNOUNCING, False)])
def test_an_unavailable_announcer_is_listed_with_its_detail(state, listed):
    announcer = AnnouncerStatus("eSCL", state, "avahi-daemon is not running: apt install avahi-daemon")
    items = checklist(diagnostics(announcers=(announcer,)), [installed()])
    assert bool(items and "avahi-daemon is not running" in items[0]) is listed


def test_an_address_discovery_could_not_announce_on_points_at_the_log():
    half = InterfaceView("end0", ("192.168.1.5",), SEEN, not_announced=("fd00::5",))
    [item] = checklist(diagnostics(interfaces=(half,)), [installed()])
    assert item.startswith("Discovery cannot announce on end0 fd00::5") and "log" in item
