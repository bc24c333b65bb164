"""Fixtures of the unit tests."""

import pytest
from twisted.logger import globalLogPublisher


@pytest.fixture
def logged():
    """The log events emitted during the test (twisted.logger event dicts)."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)
