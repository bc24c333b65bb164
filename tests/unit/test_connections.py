"""The connection limits' own arithmetic: budgets and rate-limited log lines, on a fake clock."""

from twisted.internet.task import Clock
from twisted.logger import PredicateResult

from gateway.connections import LOG_INTERVAL, ConnectionLogFilter, RateLimited, connection_budget


def test_the_budget_keeps_an_eighth_of_the_descriptors_and_at_least_64():
    assert connection_budget(4096) == 4096 - 512
    assert connection_budget(256) == 256 - 64
    assert connection_budget(20) == 16


def test_a_recurring_line_is_emitted_once_then_summed_up_after_the_interval():
    clock, lines = Clock(), []
    limited = RateLimited(clock, lambda fields, left_out: lines.append((fields["peer"], left_out)))
    for i in range(100):
        limited(peer=f"10.0.0.{i}")
        clock.advance(0.01)
    assert lines == [("10.0.0.0", 0)]
    clock.advance(LOG_INTERVAL)
    assert lines == [("10.0.0.0", 0), ("10.0.0.99", 99)]
    clock.advance(LOG_INTERVAL * 3)
    limited(peer="10.0.0.200")
    assert lines[-1] == ("10.0.0.200", 0)


def test_twisteds_lines_per_failed_accept_are_held_back():
    f = ConnectionLogFilter(Clock())
    for text in ("EMFILE encountered; releasing reserved file descriptor.",
                 "EMFILE recovery: Closed socket from {address}", "Re-reserving EMFILE recovery file descriptor.", "Could not accept new connection ({acceptError})",
                 "Timing out client: {peer}"):
        assert f({"log_format": text}) is PredicateResult.no
    assert f({"log_format": "job {job} created"}) is PredicateResult.maybe
