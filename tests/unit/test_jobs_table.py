"""The job table: ids, tokens, the retrieve deadline and history, on a fake clock."""

import pytest
from twisted.internet.task import Clock

from gateway.model import (
    DocumentParameters, ErrorKind, ImageInfo, ImageInformation, JobError, JobState, JobStateReason, Requested,
    ScanTicket,
)
from gateway.scanner.jobs import FAILURES, RETRIEVE_TIMEOUT, TRANSITIONS, Event, Failure, InvalidTransition, JobTable
from gateway.scanner.ticket import negotiate
from tests.unit.test_ticket import CAPS, FORMATS

FINAL = negotiate(ScanTicket(), CAPS, FORMATS)
INFO = ImageInformation(ImageInfo(10, 10, 0))


def table(clock=None, timed_out=None):
    return JobTable(clock or Clock(), on_timeout=(timed_out.append if timed_out is not None else lambda j: None))


def test_a_job_not_retrieved_within_60_seconds_is_aborted_as_timed_out():
    clock, timed_out = Clock(), []
    jobs = table(clock, timed_out)
    job = jobs.create(ScanTicket(), FINAL, INFO)
    clock.advance(RETRIEVE_TIMEOUT + 1)
    assert job.state is JobState.ABORTED and job.reasons == (JobStateReason.TIMED_OUT,)
    assert timed_out == [job] and not jobs.busy()


def test_the_deadline_is_suspended_while_an_image_is_retrieved():
    clock = Clock()
    jobs = table(clock)
    job = jobs.create(ScanTicket(), FINAL, INFO)
    jobs.retrieve_started(job)
    clock.advance(RETRIEVE_TIMEOUT * 3)
    assert job.state is JobState.PROCESSING


def test_only_one_active_job_per_scanner():
    jobs = table()
    jobs.create(ScanTicket(), FINAL, INFO)
    with pytest.raises(JobError) as e:
        jobs.create(ScanTicket(), FINAL, INFO)
    assert e.value.kind is ErrorKind.BUSY


def test_tokens_are_long_and_unguessable():
    jobs = table()
    first = jobs.create(ScanTicket(), FINAL, INFO)
    jobs.cancel_requested(first)
    second = jobs.create(ScanTicket(), FINAL, INFO)
    assert first.token != second.token and len(first.token) >= 20


def test_a_wrong_token_is_refused():
    jobs = table()
    job = jobs.create(ScanTicket(), FINAL, INFO)
    with pytest.raises(JobError) as e:
        jobs.for_retrieve(job.id, "guess")
    assert e.value.kind is ErrorKind.BAD_TOKEN


def test_ids_wrap_without_reaching_zero():
    jobs = table()
    jobs._next_id = 2**31 - 1
    a = jobs.create(ScanTicket(), FINAL, INFO)
    jobs.cancel_requested(a)
    b = jobs.create(ScanTicket(), FINAL, INFO)
    assert (a.id, b.id) == (2**31 - 1, 1)


def test_history_is_bounded_and_newest_first():
    jobs = JobTable(Clock(), on_timeout=lambda j: None, history_size=3)
    ids = []
    for _ in range(5):
        job = jobs.create(ScanTicket(), FINAL, INFO)
        jobs.cancel_requested(job)
        ids.append(job.id)
    assert [j.id for j in jobs.history] == ids[:-4:-1]


def test_every_state_change_is_told():
    seen = []
    jobs = JobTable(Clock(), on_timeout=lambda j: None, on_change=lambda j: seen.append(j.state))
    job = jobs.create(ScanTicket(), FINAL, INFO)
    jobs.retrieve_started(job)
    jobs.retrieve_ended(job, 1)
    assert seen == [JobState.PENDING, JobState.PROCESSING, JobState.COMPLETED]


def test_a_job_is_found_for_its_owner_and_for_whoever_is_not_asked_about():
    jobs = table()
    job = jobs.create(ScanTicket(), FINAL, INFO, owner="192.168.1.40")
    assert jobs.find(job.id, owner="192.168.1.40") is job
    assert jobs.find(job.id) is job
    with pytest.raises(JobError) as e:
        jobs.find(job.id, owner="192.168.1.41")
    assert e.value.kind is ErrorKind.NOT_FOUND


# ------------------------------------------------------------ the transition table

FEEDER = negotiate(ScanTicket(parameters=DocumentParameters(input_source=Requested("ADF"))), CAPS, FORMATS)


def job_in(state, clock=None):
    """A job of a feeder (as many images as it holds) brought to ``state`` by events."""
    jobs = table(clock)
    job = jobs.create(ScanTicket(), FEEDER, INFO)
    if state is not JobState.PENDING:
        jobs.retrieve_started(job)
    if state is JobState.STARTED:
        jobs.retrieve_ended(job, 1)
    if state is JobState.TERMINATING:
        jobs.cancel_requested(job)
    assert job.state is state
    return jobs, job


WAYS = {  # (event, to) -> how a test makes it happen
    (Event.RETRIEVE_STARTED, JobState.PROCESSING): lambda jobs, job, clock: jobs.retrieve_started(job),
    (Event.RETRIEVE_ENDED, JobState.STARTED): lambda jobs, job, clock: jobs.retrieve_ended(job, 1),
    (Event.RETRIEVE_ENDED, JobState.COMPLETED): lambda jobs, job, clock: jobs.retrieve_ended(job, 1, feeder_empty=True),
    (Event.RETRIEVE_ENDED, JobState.CANCELED): lambda jobs, job, clock: jobs.retrieve_ended(job, 1),
    (Event.RETRIEVE_FAILED, JobState.ABORTED): lambda jobs, job, clock: jobs.retrieve_failed(job, Failure.DEVICE_ERROR),
    (Event.RETRIEVE_FAILED, JobState.CANCELED): lambda jobs, job, clock: jobs.retrieve_failed(
        job, Failure.CANCELLED_AT_DEVICE),
    (Event.CANCEL_REQUESTED, JobState.CANCELED): lambda jobs, job, clock: jobs.cancel_requested(job),
    (Event.CANCEL_REQUESTED, JobState.TERMINATING): lambda jobs, job, clock: jobs.cancel_requested(job),
    (Event.TIMED_OUT, JobState.ABORTED): lambda jobs, job, clock: clock.advance(RETRIEVE_TIMEOUT + 1),
    (Event.ABANDONED, JobState.ABORTED): lambda jobs, job, clock: jobs.abandoned(job, Failure.REMOVED),
}

CASES = [(event, start, to) for (event, start), targets in TRANSITIONS.items() for to in sorted(targets)]


@pytest.mark.parametrize("event,start,to", CASES, ids=[f"{e.value}: {s.value} -> {t.value}" for e, s, t in CASES])
def test_every_transition_of_the_table_happens_by_its_event(event, start, to):
    clock = Clock()
    jobs, job = job_in(start, clock)
    WAYS[(event, to)](jobs, job, clock)
    assert job.state is to
    assert jobs.busy() is not to.ended


def test_a_move_the_table_lacks_is_refused():
    jobs, job = job_in(JobState.PENDING)
    with pytest.raises(InvalidTransition):
        jobs._move(job, Event.RETRIEVE_ENDED, JobState.COMPLETED, JobStateReason.COMPLETED_SUCCESSFULLY)


def test_events_for_a_job_that_has_ended_change_nothing():
    jobs, job = job_in(JobState.PROCESSING)
    jobs.abandoned(job, Failure.NOT_ANSWERING)
    jobs.retrieve_ended(job, 1)
    jobs.retrieve_failed(job, Failure.DEVICE_ERROR)
    assert (job.state, job.reasons, job.images_done) == (JobState.ABORTED, (JobStateReason.SCANNER_STOPPED,), 0)


def test_every_failure_ends_the_job_with_its_state_and_reason():
    for failure, (state, reason) in FAILURES.items():
        jobs, job = job_in(JobState.PROCESSING)
        jobs.retrieve_failed(job, failure)
        assert (job.state, job.reasons) == (state, (reason,)), failure
    assert set(FAILURES) == set(Failure)


def test_a_job_being_set_up_keeps_another_out():
    jobs = table()
    jobs.begin_setup()
    with pytest.raises(JobError) as e:
        jobs.begin_setup()
    assert e.value.kind is ErrorKind.BUSY
    jobs.setup_failed()
    jobs.begin_setup()
