"""Fixtures of the unit tests."""

import pytest
from twisted.logger import globalLogPublisher

from tests.support.fake_sane import FakeDevice, ThreadedClock


@pytest.fixture
def logged():
    """The log events emitted during the test (twisted.logger event dicts)."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest.fixture
def reactor():
    """A Clock that also runs what threads hand to it (callFromThread)."""
    return ThreadedClock()


@pytest.fixture
def device():
    """One fake SANE device (at the python-sane boundary); modules that need another override this."""
    return FakeDevice()
