"""Hand a burst of OS events over once, when the burst is over.

One scanner plugged in is a device ``add``, a ``bind`` and interface events
within milliseconds; an interface going down takes all its addresses with
it. What follows each (a SANE re-enumeration, sockets reopened, a Hello)
should happen once per burst, and only once things have settled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime

T = TypeVar("T")


class Settler(Generic[T]):
    """Collects items and delivers them together ``quiet`` seconds after the last one.

    A stream that never goes quiet is still delivered ``longest`` seconds after
    its first item, so a flapping device cannot postpone the others forever.
    """

    def __init__(self, clock: IReactorTime, deliver: Callable[[tuple[T, ...]], None], quiet: float,
                 longest: float | None = None):
        self._clock = clock
        self._deliver = deliver
        self.quiet = quiet
        self.longest = max(quiet, longest if longest is not None else 5 * quiet)
        self._items: list[T] = []
        self._call: IDelayedCall | None = None
        self._first = 0.0

    @property
    def pending(self) -> tuple[T, ...]:
        return tuple(self._items)

    def add(self, item: T) -> None:
        now = self._clock.seconds()
        if not self._items:
            self._first = now
        self._items.append(item)
        due = min(now + self.quiet, self._first + self.longest)
        if self._call is not None and self._call.active():
            self._call.reset(max(0.0, due - now))
        else:
            self._call = self._clock.callLater(max(0.0, due - now), self.flush)

    def flush(self) -> None:
        """Deliver what is pending now (nothing if nothing is)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        items, self._items = tuple(self._items), []
        if items:
            self._deliver(items)

    def cancel(self) -> None:
        """Forget what is pending (the watcher stops)."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._items = []
