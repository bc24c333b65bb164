"""Events on their way to the subscribers: one queue per subscriber, in order, retried a little.

Off the request path: a subscriber that hangs or refuses is retried, then
given up (``on_failed``), and never delays a scan or another subscriber. The
poster is injected (``poster.http_poster`` in the gateway, a fake in tests).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Callable

from twisted.internet import defer
from twisted.logger import Logger

from gateway.wsd.eventing.subscriptions import Subscription

log = Logger()

QUEUE_LIMIT = 64
"""Events waiting for one subscriber; past this it is too slow and is dropped."""
RETRY_DELAYS = (1.0, 3.0)
DELIVERY_TIMEOUT = 10.0
END_TIMEOUT = 2.0
"""Seconds a SubscriptionEnd may take: it is a courtesy, sent as the source goes away."""

Poster = Callable[[str, bytes, str], defer.Deferred]
"""post(url, data, subscriber): fires once the subscriber took the message, fails otherwise."""


@dataclass
class _Outbox:
    queue: collections.deque = field(default_factory=collections.deque)
    sending: bool = False
    delivered: int = 0


class Delivery:
    def __init__(self, clock, post: Poster, on_failed: Callable[[Subscription, str], None]):
        """``on_failed(sub, why)``: the subscriber took nothing after every retry, or let its queue fill."""
        self._clock = clock
        self._post = post
        self._on_failed = on_failed
        self._outboxes: dict[str, _Outbox] = {}

    def send(self, sub: Subscription, message: bytes) -> None:
        """Queue a serialized event for ``sub``; it goes out after those queued before it."""
        box = self._outboxes.setdefault(sub.id, _Outbox())
        if len(box.queue) >= QUEUE_LIMIT:
            self.forget(sub)
            self._on_failed(sub, "its event queue is full")
            return
        box.queue.append(message)
        if not box.sending:
            self._send_next(sub, box)

    def delivered(self, sub: Subscription) -> int:
        box = self._outboxes.get(sub.id)
        return box.delivered if box else 0

    def forget(self, sub: Subscription) -> None:
        """Nothing more goes to ``sub``; what waits is dropped."""
        box = self._outboxes.pop(sub.id, None)
        if box is not None:
            box.queue.clear()

    def _send_next(self, sub: Subscription, box: _Outbox, attempt: int = 0) -> None:
        if not box.queue or self._outboxes.get(sub.id) is not box:
            box.sending = False
            return
        box.sending = True
        d = self._post(sub.notify_to.address, box.queue[0], sub.peer)
        d.addTimeout(DELIVERY_TIMEOUT, self._clock)

        def sent(_):
            if box.queue:
                box.queue.popleft()
            box.delivered += 1
            self._send_next(sub, box)

        def failed(failure):
            if attempt < len(RETRY_DELAYS):
                self._clock.callLater(RETRY_DELAYS[attempt], self._send_next, sub, box, attempt + 1)
            else:
                box.sending = False
                if self._outboxes.get(sub.id) is box:
                    self.forget(sub)
                    self._on_failed(sub, f"it did not take an event: {failure.getErrorMessage()}")
        d.addCallbacks(sent, failed)

    def end(self, sub: Subscription, envelope: bytes) -> defer.Deferred:
        """A SubscriptionEnd to the subscriber's EndTo, at once and once; fires when it was tried."""
        self.forget(sub)
        d = self._post(sub.end_to.address, envelope, sub.peer)
        d.addTimeout(END_TIMEOUT, self._clock)
        d.addErrback(lambda f: log.info("SubscriptionEnd to {peer} failed: {e}", peer=sub.peer, e=f.getErrorMessage()))
        return d
