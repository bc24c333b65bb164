"""The scanner core: SANE devices as scanners any protocol front end can drive; it knows no protocol.

- ``device``: one scanner on the reactor, what front ends call (``gateway.scanner_api.ScannerCore``);
- ``jobs``: THE job state machine, every state and transition;
- ``session``: every piece of thread code, and the thread model; ``watchdog``: hung device calls;
- ``ticket``, ``capabilities``: tickets and SANE options, both ways; ``status``: conditions from SANE errors;
- ``inventory``: which devices are served and their UUIDs; ``buttons``: the scan button and cover sensor;
- ``rescan``: SANE starting over after a USB change, only while no job runs anywhere;
- ``saneapi``: the only python-sane user.
"""
