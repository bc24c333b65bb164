"""The WSD front end (Windows' scanner protocol); it knows nothing of SANE and drives scanners through
``gateway.scanner_api``.

- ``device``: one scanner as a WSD device (metadata, events, push destinations, its resource);
- ``service``: the SOAP resource; ``scan_messages/``: WS-Scan bodies; ``vocabulary``, ``faults``: the
  model's words and error kinds in WS-Scan's terms;
- ``soap``, ``namespaces``, ``mtom``, ``metadata``: SOAP 1.2, WS-Addressing, MTOM, DPWS;
- ``eventing/``, ``push``: WS-Eventing and push scan; ``discovery/``: WS-Discovery.
"""
