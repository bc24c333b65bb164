"""WS-Discovery 2005/04 over SOAP-over-UDP: makes each scanner findable on the LAN.

- ``messages``: the wire format (build, parse, match), pure;
- ``guards``: duplicate, rate and on-link rules, clock-driven;
- which local addresses to announce on: ``gateway.addresses``;
- ``responder``: what to answer to one datagram, socket-free;
- ``service``: the sockets and the Twisted service.
"""

from gateway.wsd.discovery.responder import DiscoverableDevice
from gateway.wsd.discovery.service import DiscoveryService

__all__ = ["DiscoverableDevice", "DiscoveryService"]
