"""What the operating system tells the gateway about its surroundings while it runs.

USB devices coming and going (``usb``, from udev or the kernel's uevents) and
network interfaces and addresses changing (``network``, from rtnetlink).
Both are watched on the reactor without polling and without threads, and
both know nothing of SANE or of any protocol: the scanner core re-enumerates
SANE on a USB change, and every announcer (WS-Discovery, eSCL's mDNS)
follows the network changes. ``app.py`` connects them.
"""
