"""A burst of OS events is handed over once, after it went quiet, on a fake clock."""

from twisted.internet.task import Clock

from gateway.osevents.settle import Settler


def settler(quiet=1.0, longest=None):
    clock, delivered = Clock(), []
    return clock, delivered, Settler(clock, delivered.append, quiet, longest)


def test_items_of_one_burst_are_delivered_together_once_it_is_quiet():
    clock, delivered, s = settler()
    s.add("add")
    clock.advance(0.3)
    s.add("bind")
    clock.advance(0.9)
    assert delivered == []
    clock.advance(0.1)
    assert delivered == [("add", "bind")]


def test_a_later_item_starts_a_burst_of_its_own():
    clock, delivered, s = settler()
    s.add(1)
    clock.advance(1.0)
    s.add(2)
    clock.advance(1.0)
    assert delivered == [(1,), (2,)]


def test_a_stream_that_never_goes_quiet_is_delivered_after_the_longest_wait():
    clock, delivered, s = settler(quiet=1.0, longest=3.0)
    for i in range(10):
        s.add(i)
        clock.advance(0.5)
    assert delivered[0] == tuple(range(6))


def test_cancel_forgets_what_is_pending():
    clock, delivered, s = settler()
    s.add(1)
    s.cancel()
    clock.advance(10)
    assert delivered == [] and s.pending == ()


def test_flush_delivers_at_once_and_nothing_twice():
    clock, delivered, s = settler()
    s.add(1)
    s.flush()
    clock.advance(10)
    assert delivered == [(1,)]
