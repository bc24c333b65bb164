"""The thread-to-reactor pipe: bounded, paused by a slow consumer, stopped by a gone one."""

import threading

import pytest

from gateway.pipe import PipeClosed, ThreadPipe


class InlineReactor:
    """callFromThread runs at once: enough to see the pipe's own bookkeeping."""

    def callFromThread(self, f, *args):
        f(*args)


def test_chunks_reach_the_consumer_in_order_then_done():
    pipe = ThreadPipe(InlineReactor())
    got, done = [], []
    pipe.attach(got.append, done.append)
    for chunk in (b"a", b"b", b"c"):
        pipe.write(chunk)
    pipe.close()
    assert got == [b"a", b"b", b"c"] and done == [None]


def test_a_paused_consumer_stops_the_writer_after_max_chunks():
    pipe = ThreadPipe(InlineReactor(), max_chunks=2)
    got = []
    pipe.attach(got.append, lambda e: None)
    pipe.pauseProducing()
    pipe.write(b"1")
    pipe.write(b"2")
    blocked = threading.Event()
    finished = threading.Event()

    def writer():
        blocked.set()
        pipe.write(b"3")
        finished.set()

    t = threading.Thread(target=writer)
    t.start()
    blocked.wait()
    assert not finished.wait(0.5)
    assert got == []
    pipe.resumeProducing()
    assert finished.wait(2)
    t.join()
    assert got == [b"1", b"2", b"3"]


def test_a_gone_consumer_makes_the_writer_stop():
    pipe = ThreadPipe(InlineReactor(), max_chunks=1)
    pipe.attach(lambda d: None, lambda e: None)
    pipe.pauseProducing()
    pipe.write(b"1")
    pipe.stopProducing()
    with pytest.raises(PipeClosed):
        pipe.write(b"2")


def test_a_client_that_takes_nothing_for_the_stall_timeout_stops_the_writer():
    pipe = ThreadPipe(InlineReactor(), max_chunks=1, stall_timeout=0.5)
    done = []
    pipe.attach(lambda d: None, done.append)
    pipe.pauseProducing()
    pipe.write(b"1")
    with pytest.raises(PipeClosed):
        pipe.write(b"2")
    pipe.close()
    assert isinstance(done[0], PipeClosed)


def test_an_aborted_transfer_never_ends_as_a_success():
    pipe = ThreadPipe(InlineReactor())
    done = []
    pipe.attach(lambda d: None, done.append)
    pipe.write(b"last")
    pipe.abort()
    pipe.close(None)
    assert isinstance(done[0], PipeClosed)
