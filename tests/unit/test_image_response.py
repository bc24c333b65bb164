"""A cut-off image response: its connection is reset shortly after, so the cancel's own answer leaves first."""

from twisted.internet.task import Clock

from gateway.image_response import CUT_OFF_DELAY, cut_off


class _Transport:
    def __init__(self):
        self.aborted = False

    def abortConnection(self):
        self.aborted = True


class _Request:
    def __init__(self):
        self.transport = _Transport()


def test_a_cut_off_image_connection_is_not_reset_in_the_same_turn_as_the_cancel():
    clock, request = Clock(), _Request()
    cut_off(request, clock)
    assert not request.transport.aborted


def test_a_cut_off_image_connection_is_reset_well_within_a_second():
    clock, request = Clock(), _Request()
    cut_off(request, clock)
    clock.advance(CUT_OFF_DELAY)
    assert request.transport.aborted and CUT_OFF_DELAY <= 0.25
