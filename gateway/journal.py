"""Logs and service state for systemd: journald priorities on each line, and sd_notify's READY/STOPPING.

Under systemd (``JOURNAL_STREAM`` names our standard output's stream) each
line starts with its syslog priority, ``<3>`` for an error to ``<7>`` for
debug, which journald turns into the entry's priority (``journalctl -p
warning`` then shows the warnings); the journal adds its own time stamp.
Anywhere else the lines are Twisted's usual text with a time stamp.

``notify`` is the sd_notify protocol: one datagram to the AF_UNIX socket in
``NOTIFY_SOCKET`` (an abstract one when it starts with ``@``), for a unit with
``Type=notify``.
"""

from __future__ import annotations

import os
import socket
from typing import IO

from twisted.logger import LogLevel, formatEventAsClassicLogText, textFileLogObserver

PRIORITIES = {
    LogLevel.critical: 2,
    LogLevel.error: 3,
    LogLevel.warn: 4,
    LogLevel.info: 6,
    LogLevel.debug: 7,
}
"""Twisted's levels as syslog priorities (sd-daemon(3)): crit, err, warning, info, debug."""


def under_journal(stream: IO, environ=os.environ) -> bool:
    """``stream`` is connected to the journal: JOURNAL_STREAM is ``device:inode`` of it."""
    try:
        device, inode = (int(part) for part in environ.get("JOURNAL_STREAM", "").split(":"))
        found = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


def journal_line(event: dict) -> str | None:
    """One event as journald reads it: every line prefixed with the priority, no time stamp."""
    text = formatEventAsClassicLogText(event, formatTime=lambda _when: "")
    if text is None:
        return None
    priority = PRIORITIES.get(event.get("log_level"), 6)
    lines = text.strip().split("\n")
    return "".join(f"<{priority}>{line}\n" for line in lines)


class JournalObserver:
    """A log observer writing ``journal_line``s to a stream (flushed per event: the journal sees them at once)."""

    def __init__(self, stream: IO):
        self._stream = stream

    def __call__(self, event: dict) -> None:
        text = journal_line(event)
        if text:
            self._stream.write(text)
            self._stream.flush()


def log_observer(stream: IO, environ=os.environ):
    """The observer for ``stream``: journald's priorities under systemd, Twisted's text format otherwise."""
    return JournalObserver(stream) if under_journal(stream, environ) else textFileLogObserver(stream)


def notify(state: str, environ=os.environ) -> bool:
    """Send ``state`` ("READY=1", "STOPPING=1", "STATUS=...") to systemd; False when not run by it (or the
    socket is gone: systemd then does not wait for us)."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address.startswith(("/", "@")):
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(state.encode(), address)
    except OSError:
        return False
    return True



