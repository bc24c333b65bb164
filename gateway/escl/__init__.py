"""eSCL (AirScan): the REST front end Macs, phones, ChromeOS, Linux and Windows 10/11 scan through,
and its mDNS announcement through avahi-daemon.

It speaks in ``gateway.model`` values and knows nothing of SANE or of ``wsd/``.
"""
