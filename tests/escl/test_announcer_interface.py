"""The eSCL announcer is an Announcer: the wiring and the status page need nothing of avahi."""

from twisted.internet.task import Clock

from gateway.announce import Announcer, AnnouncerState
from gateway.escl.avahi import PROTOCOL, AvahiAnnouncer
from gateway.escl.dnssd import service_record


def test_the_avahi_announcer_offers_the_announcer_interface():
    assert isinstance(AvahiAnnouncer(Clock(), lambda s, host: service_record(s, 8765, "/eSCL")), Announcer)


def test_before_it_starts_the_announcer_is_starting_and_names_no_scanner():
    status = AvahiAnnouncer(Clock(), lambda s, host: service_record(s, 8765, "/eSCL")).status()
    assert (status.protocol, status.state, dict(status.names)) == (PROTOCOL, AnnouncerState.STARTING, {})
