"""WS-Eventing 2004/08 as DPWS profiles it: one event source per device.

- ``messages``: the wire (Subscribe and its answers, SubscriptionEnd, endpoint references), pure;
- ``subscriptions``: the store, expiry, and room for one more, clock-driven;
- ``delivery``: one queue per subscriber, in order, retried, over an injected poster;
- ``poster``: the HTTP client, to checked addresses only;
- ``source``: ``EventSource``, which joins them for one device.
"""

from gateway.wsd.eventing.messages import STATUS_SHUTTING_DOWN
from gateway.wsd.eventing.poster import http_poster
from gateway.wsd.eventing.source import EventSource
from gateway.wsd.eventing.subscriptions import Subscription

__all__ = ["EventSource", "STATUS_SHUTTING_DOWN", "Subscription", "http_poster"]
