"""A bounded pipe from a worker thread to the reactor, with backpressure both ways.

The scanner's thread writes encoded chunks; the reactor hands them to an HTTP
consumer. At most ``max_chunks`` chunks are in flight: when the client is slow,
the consumer pauses us, chunks stop being taken, and the worker's next
``write`` waits. Memory stays bounded by a few strips whatever the page size.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable

from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer


STALL_TIMEOUT = 120.0
"""Seconds a client may take no data at all before its transfer is given up (and the scanner freed)."""


class PipeClosed(Exception):
    """The reading side went away (client disconnected or job cancelled)."""


class ClientGone(PipeClosed):
    """The client's connection closed under the transfer."""


@implementer(IPushProducer)
class ThreadPipe:
    def __init__(self, reactor, max_chunks: int = 4, stall_timeout: float = STALL_TIMEOUT):
        self._reactor = reactor
        self._stall_timeout = stall_timeout
        self._slots = threading.Semaphore(max_chunks)
        self._aborted = threading.Event()
        self._pending: collections.deque[bytes] = collections.deque()
        self._paused = False
        self._write: Callable[[bytes], None] | None = None
        self._done: Callable[[Exception | None], None] | None = None
        self._end: tuple[Exception | None] | None = None
        self._why: PipeClosed = PipeClosed("the transfer was stopped")

    # worker thread side

    def write(self, data: bytes) -> None:
        if self._aborted.is_set():
            raise self._closed_error()
        if not data:
            return  # an encoder that holds its output back still hears of an abort at every strip
        waited = 0.0
        while not self._slots.acquire(timeout=0.25):
            if self._aborted.is_set():
                raise self._closed_error()
            waited += 0.25
            if waited >= self._stall_timeout:
                why = PipeClosed(f"the client took nothing for {self._stall_timeout:.0f} s")
                self._reactor.callFromThread(self.abort, why)
                raise why
        if self._aborted.is_set():
            raise self._closed_error()
        self._reactor.callFromThread(self._arrived, bytes(data))

    def _closed_error(self) -> PipeClosed:
        return type(self._why)(*self._why.args)

    def close(self, error: Exception | None = None) -> None:
        self._reactor.callFromThread(self._closed, error)

    # reactor side

    def attach(self, write: Callable[[bytes], None], done: Callable[[Exception | None], None]) -> None:
        self._write, self._done = write, done
        self._flush()

    def _arrived(self, data: bytes) -> None:
        if self._aborted.is_set():
            # Written just before an abort and delivered just after it: nobody takes it any more.
            self._slots.release()
            return
        self._pending.append(data)
        self._flush()

    def _closed(self, error: Exception | None) -> None:
        if error is None and self._aborted.is_set():
            error = self._closed_error()
        if self._end is None:
            self._end = (error,)
        self._flush()

    def _flush(self) -> None:
        while self._write is not None and not self._paused and self._pending:
            data = self._pending.popleft()
            self._write(data)
            self._slots.release()
        if self._end is not None and not self._pending and self._done is not None:
            done, self._done = self._done, None
            done(self._end[0])

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._flush()

    def stopProducing(self) -> None:
        """The consumer (the client's connection) is gone."""
        self.abort(ClientGone("the client went away"))

    def abort(self, why: str | PipeClosed = "the transfer was stopped") -> None:
        """Stop the worker at its next write; nothing more is delivered, and the reading side hears
        at once that the transfer ended (it does not wait for the worker, which may be in a slow read)."""
        if not self._aborted.is_set():
            self._why = why if isinstance(why, PipeClosed) else PipeClosed(why)
        self._aborted.set()
        self._pending.clear()
        self._write = None
        if self._end is None:
            self._end = (self._closed_error(),)
        self._flush()
