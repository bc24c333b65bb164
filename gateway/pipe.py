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
        self.bytes_delivered = 0

    # worker thread side

    def write(self, data: bytes) -> None:
        if not data:
            return
        waited = 0.0
        while not self._slots.acquire(timeout=0.25):
            if self._aborted.is_set():
                raise PipeClosed()
            waited += 0.25
            if waited >= self._stall_timeout:
                self._aborted.set()
                self._reactor.callFromThread(self.abort)
                raise PipeClosed(f"the client took nothing for {self._stall_timeout:.0f} s")
        if self._aborted.is_set():
            raise PipeClosed()
        self._reactor.callFromThread(self._arrived, bytes(data))

    def close(self, error: Exception | None = None) -> None:
        self._reactor.callFromThread(self._closed, error)

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    # reactor side

    def attach(self, write: Callable[[bytes], None], done: Callable[[Exception | None], None]) -> None:
        self._write, self._done = write, done
        self._flush()

    def _arrived(self, data: bytes) -> None:
        self._pending.append(data)
        self._flush()

    def _closed(self, error: Exception | None) -> None:
        if error is None and self._aborted.is_set():
            error = PipeClosed("the transfer was stopped")
        self._end = (error,)
        self._flush()

    def _flush(self) -> None:
        while self._write is not None and not self._paused and self._pending:
            data = self._pending.popleft()
            self.bytes_delivered += len(data)
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
        self.abort()

    def abort(self) -> None:
        """Stop the worker at its next write; nothing more is delivered."""
        self._aborted.set()
        self._pending.clear()
        self._write = None
