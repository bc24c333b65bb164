"""Every state, reason and condition word of the model has its WS-Scan keyword."""

import pytest

from gateway.model import JobStateReason
from gateway.wsd.vocabulary import TABLES, keyword


@pytest.mark.parametrize("kind", list(TABLES), ids=lambda t: t.__name__)
def test_every_member_has_a_keyword(kind):
    assert set(TABLES[kind]) == set(kind)


@pytest.mark.parametrize("kind", list(TABLES), ids=lambda t: t.__name__)
def test_keywords_are_single_words(kind):
    assert all(word and word.isalnum() for word in TABLES[kind].values())


def test_the_schema_spelling_is_kept():
    assert keyword(JobStateReason.SCANNING_AND_TRANSFERRING) == "JobScanningAndTransfering"
